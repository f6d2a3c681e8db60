// Authentication (token, one or many users with passwords) and per-user permissions.
//
// authenticate() is called once per CONNECT. A user's permissions are compiled into a
// permission_set shared by all of that user's connections; each connection keeps its own
// cache of publish decisions (publish_cache) because publish checks run per message.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/string_hash.h"
#include "broker/client_options.h"
#include "broker/options.h"

namespace ferry::broker {

// One allow or deny entry: a subject pattern and, for subscribe entries, an optional queue
// pattern ("foo.* workers" in the config).
struct permission_entry {
  std::string subject;
  std::string queue;
};

class permission_set {
 public:
  explicit permission_set(const permissions& p);

  [[nodiscard]] bool restricts_publish() const { return pub_allow_ || pub_deny_; }
  // Whether a publish to literal `subject` is allowed (allow list, then deny list).
  [[nodiscard]] bool can_publish(std::string_view subject) const;
  // Whether SUB `subject` [queue] is allowed. The subscription subject is matched as a literal
  // against the patterns, as nats-server does.
  [[nodiscard]] bool can_subscribe(std::string_view subject, std::string_view queue) const;
  // Whether a wildcard subscription to `subject` covers a denied subject, in which case
  // deliveries must be filtered with delivery_denied().
  [[nodiscard]] bool needs_delivery_filter(std::string_view subject) const;
  // Whether a message on `subject` must not be delivered to this user (subscribe deny list).
  [[nodiscard]] bool delivery_denied(std::string_view subject) const;

 private:
  static bool any_plain_match(const std::vector<permission_entry>& l, std::string_view subject);
  static std::optional<bool> queue_match(const std::vector<permission_entry>& l, std::string_view subject,
                                         std::string_view queue);

  bool pub_allow_ = false;  // an allow list was given (even if empty after parsing)
  bool pub_deny_ = false;
  bool sub_allow_ = false;
  bool sub_deny_ = false;
  std::vector<permission_entry> pub_allow_list_, pub_deny_list_, sub_allow_list_, sub_deny_list_;
};

// Caches publish decisions for one connection. Not thread-safe (owner thread only).
class publish_cache {
 public:
  bool allowed(const permission_set& p, std::string_view subject);

 private:
  string_map<bool> map_;
};

struct auth_outcome {
  bool ok = false;
  std::string user;                              // authenticated user name, if any
  std::shared_ptr<const permission_set> perms;   // nullptr: no restrictions
};

class authenticator {
 public:
  explicit authenticator(const auth_options& o);
  [[nodiscard]] bool required() const { return required_; }
  [[nodiscard]] auth_outcome authenticate(const client_options& c) const;

 private:
  struct compiled_user {
    std::string name, password;
    std::shared_ptr<const permission_set> perms;
  };
  bool required_ = false;
  std::string token_;
  std::vector<compiled_user> users_;
};

// Compares a password with a configured secret: plain text, or a bcrypt hash ("$2a$", "$2b$",
// "$2y$"). Constant time for plain text.
bool password_matches(std::string_view given, std::string_view configured);

}  // namespace ferry::broker
