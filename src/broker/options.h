// server_options: every setting of a ferryd broker, with nats-server's defaults.
//
// Filled from flags and a config file by ferryd, or directly by a program that embeds the
// broker (see server.h). Durations are std::chrono; sizes are bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/logging.h"

namespace ferry::broker {

// Allow and deny lists of subjects (wildcards allowed). An empty allow list allows everything
// not denied; a non-empty one allows only what it matches.
struct subject_permission {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  [[nodiscard]] bool empty() const { return allow.empty() && deny.empty(); }
};

struct permissions {
  subject_permission publish;
  subject_permission subscribe;
  [[nodiscard]] bool empty() const { return publish.empty() && subscribe.empty(); }
};

struct user {
  std::string name;
  std::string password;  // plain text, or a bcrypt hash ("$2a$...")
  std::optional<permissions> perms;
};

struct auth_options {
  std::string token;        // token auth (plain text or bcrypt hash)
  std::vector<user> users;  // user/password auth, with optional permissions per user
  std::chrono::milliseconds timeout{0};  // 0: 2 s, or tls timeout + 1 s with TLS
  [[nodiscard]] bool required() const { return !token.empty() || !users.empty(); }
};

struct tls_options {
  bool enabled = false;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify = false;  // require and verify client certificates
  std::chrono::milliseconds timeout{2000};
};

struct server_options {
  std::string server_name;           // default: the server id
  std::string host = "127.0.0.1";    // safer than nats-server's 0.0.0.0
  int port = 4222;                   // 0 or -1: a random free port
  int http_port = 0;                 // monitoring; 0: off, -1: random
  std::string http_host;             // default: host
  int workers = 0;                   // I/O threads; 0: one per core

  std::int64_t max_payload = 1048576;
  std::int64_t max_control_line = 4096;
  int max_connections = 65536;
  int max_subscriptions = 0;  // per connection; 0: unlimited
  std::int64_t max_pending = 64LL * 1024 * 1024;
  std::chrono::milliseconds write_deadline{10000};
  std::chrono::milliseconds ping_interval{120000};
  int ping_max = 2;

  auth_options auth;
  tls_options tls;

  bool jetstream = false;
  std::string store_dir;  // default: <tmp>/ferryd/jetstream
  // JetStream file storage durability: fsync before every acknowledgement (with group
  // commit), or every sync_interval (nats-server's default: 2 minutes).
  bool sync_always = false;
  std::chrono::milliseconds sync_interval{120000};

  // Where a ports file is written ("ferryd_<pid>.ports"), if set.
  std::string ports_file_dir;
  std::string pid_file;

  log_options log;

  // What the config file said that is valid but likely not meant (a duration given as a bare
  // number); ferryd logs these at start and prints them with -t.
  std::vector<std::string> config_warnings;
};

// Checks cross-field rules (max_payload <= 64 MiB, TLS files present, ...).
// Returns a message naming the bad setting, empty when all is well.
std::string validate(const server_options& o);

}  // namespace ferry::broker
