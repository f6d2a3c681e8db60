#include "broker/auth.h"

#include <crypt.h>

#include "protocol/subject.h"

namespace ferry::broker {

namespace {

std::vector<permission_entry> compile(const std::vector<std::string>& l) {
  std::vector<permission_entry> out;
  for (const std::string& s : l) {
    permission_entry e;
    std::size_t sp = s.find_first_of(" \t");
    if (sp == std::string::npos) {
      e.subject = s;
    } else {
      e.subject = s.substr(0, sp);
      std::size_t q = s.find_first_not_of(" \t", sp);
      if (q != std::string::npos) e.queue = s.substr(q);
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

bool password_matches(std::string_view given, std::string_view configured) {
  if (configured.size() > 4 && configured[0] == '$' && configured[1] == '2' && configured[3] == '$') {
    crypt_data data{};
    std::string g(given);
    std::string c(configured);
    const char* h = crypt_r(g.c_str(), c.c_str(), &data);
    return h != nullptr && h[0] != '*' && constant_time_equal(h, configured);
  }
  return constant_time_equal(given, configured);
}

permission_set::permission_set(const permissions& p)
    : pub_allow_(!p.publish.allow.empty()),
      pub_deny_(!p.publish.deny.empty()),
      sub_allow_(!p.subscribe.allow.empty()),
      sub_deny_(!p.subscribe.deny.empty()),
      pub_allow_list_(compile(p.publish.allow)),
      pub_deny_list_(compile(p.publish.deny)),
      sub_allow_list_(compile(p.subscribe.allow)),
      sub_deny_list_(compile(p.subscribe.deny)) {}

bool permission_set::any_plain_match(const std::vector<permission_entry>& l, std::string_view subject) {
  for (const auto& e : l) {
    if (e.queue.empty() && protocol::subject_matches(e.subject, subject)) return true;
  }
  return false;
}

// nullopt: no queue entry matches the subject; else whether one of them names the queue.
std::optional<bool> permission_set::queue_match(const std::vector<permission_entry>& l,
                                                std::string_view subject, std::string_view queue) {
  std::optional<bool> r;
  for (const auto& e : l) {
    if (e.queue.empty() || !protocol::subject_matches(e.subject, subject)) continue;
    if (!r) r = false;
    if (e.queue == queue || protocol::subject_matches(e.queue, queue)) r = true;
  }
  return r;
}

bool permission_set::can_publish(std::string_view subject) const {
  bool allowed = true;
  if (pub_allow_) allowed = any_plain_match(pub_allow_list_, subject);
  if (allowed && pub_deny_) allowed = !any_plain_match(pub_deny_list_, subject);
  return allowed;
}

bool permission_set::can_subscribe(std::string_view subject, std::string_view queue) const {
  bool allowed = true;
  if (sub_allow_) {
    allowed = any_plain_match(sub_allow_list_, subject);
    if (!queue.empty()) {
      if (auto q = queue_match(sub_allow_list_, subject, queue)) allowed = *q;
    }
  }
  if (allowed && sub_deny_) {
    allowed = !any_plain_match(sub_deny_list_, subject);
    if (!queue.empty()) {
      if (auto q = queue_match(sub_deny_list_, subject, queue)) allowed = !*q;
    }
  }
  return allowed;
}

bool permission_set::needs_delivery_filter(std::string_view subject) const {
  if (!sub_deny_ || !protocol::has_wildcard(subject)) return false;
  for (const auto& e : sub_deny_list_) {
    if (e.queue.empty() && protocol::subject_is_subset(e.subject, subject)) return true;
  }
  return false;
}

bool permission_set::delivery_denied(std::string_view subject) const {
  return sub_deny_ && any_plain_match(sub_deny_list_, subject);
}

bool publish_cache::allowed(const permission_set& p, std::string_view subject) {
  auto it = map_.find(subject);
  if (it != map_.end()) return it->second;
  const bool ok = p.can_publish(subject);
  if (map_.size() >= 4096) map_.clear();
  map_.emplace(std::string(subject), ok);
  return ok;
}

authenticator::authenticator(const auth_options& o) : required_(o.required()), token_(o.token) {
  for (const user& u : o.users) {
    compiled_user cu;
    cu.name = u.name;
    cu.password = u.password;
    if (u.perms && !u.perms->empty()) cu.perms = std::make_shared<permission_set>(*u.perms);
    users_.push_back(std::move(cu));
  }
}

auth_outcome authenticator::authenticate(const client_options& c) const {
  auth_outcome out;
  if (!required_) {
    out.ok = true;
    return out;
  }
  if (!token_.empty()) {
    out.ok = password_matches(c.auth_token, token_);
    return out;
  }
  for (const compiled_user& u : users_) {
    if (u.name != c.user) continue;
    if (!password_matches(c.pass, u.password)) return out;
    out.ok = true;
    out.user = u.name;
    out.perms = u.perms;
    return out;
  }
  return out;
}

}  // namespace ferry::broker
