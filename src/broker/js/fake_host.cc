#include "broker/js/fake_host.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/headers.h"
#include "protocol/subject.h"

namespace ferry::broker::js::testing {

int sent_message::status_code() const {
  if (!headers.starts_with("NATS/1.0 ")) return 0;
  int code = 0;
  for (std::size_t i = 9; i < headers.size() && headers[i] >= '0' && headers[i] <= '9'; ++i) {
    code = code * 10 + (headers[i] - '0');
  }
  return code;
}

std::optional<std::string> sent_message::header(std::string_view name) const {
  auto v = protocol::find_header(headers, name);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::vector<fake_host::internal> fake_host::matching(std::string_view subject) {
  std::lock_guard lock(mu_);
  std::vector<internal> out;
  for (const internal& i : internal_) {
    if (protocol::subject_matches(i.sub->subject, subject)) out.push_back(i);
  }
  return out;
}

std::size_t fake_host::publish(worker* w, std::string_view subject, std::string_view reply, std::string_view headers,
                               std::string_view data, const route_options& o, bool) {
  const std::string_view to = o.match_subject.empty() ? subject : o.match_subject;
  std::size_t n = 0;
  {
    std::lock_guard lock(mu_);
    sent_.push_back(
        {std::string(subject), std::string(to), std::string(reply), std::string(headers), std::string(data)});
    for (const std::string& c : clients_) {
      if (protocol::subject_matches(c, to)) ++n;
    }
  }
  if (o.clients_only) return n;
  return n + route_internal(subject, to, reply, headers, data, w);
}

std::size_t fake_host::route_internal(std::string_view subject, std::string_view to, std::string_view reply,
                                      std::string_view headers, std::string_view data, worker* w) {
  const std::string frame_data = std::string(headers) + std::string(data);
  protocol::pub_frame f;
  f.subject = subject;
  f.reply = reply;
  f.header_size = headers.size();
  f.hpub = !headers.empty();
  f.data = frame_data;
  std::size_t n = 0;
  for (const internal& i : matching(to)) n += i.fn(f, w) ? 1 : 0;
  return n;
}

bool fake_host::has_interest(std::string_view subject) {
  if (!matching(subject).empty()) return true;
  std::lock_guard lock(mu_);
  return std::any_of(clients_.begin(), clients_.end(),
                     [&](const std::string& c) { return protocol::subject_matches(c, subject); });
}

subscription_ptr fake_host::subscribe(const std::string& subject, internal_handler fn) {
  auto s = std::make_shared<subscription>(nullptr, subject, "", "js");
  std::lock_guard lock(mu_);
  internal_.push_back({s, std::move(fn)});
  return s;
}

void fake_host::unsubscribe(const subscription_ptr& s) {
  s->closed.store(true);
  std::lock_guard lock(mu_);
  std::erase_if(internal_, [&](const internal& i) { return i.sub == s; });
}

void fake_host::at_round_end(worker&, std::shared_ptr<round_task>) {
  ADD_FAILURE() << "at_round_end without a worker: JetStream must finish the round itself";
}

void fake_host::listen(const std::string& pattern) {
  std::lock_guard lock(mu_);
  clients_.push_back(pattern);
}

void fake_host::unlisten(const std::string& pattern) {
  std::lock_guard lock(mu_);
  std::erase(clients_, pattern);
}

bool fake_host::client_publish(std::string_view subject, std::string_view data, std::string_view reply,
                               std::string_view headers) {
  return route_internal(subject, subject, reply, headers, data, nullptr) > 0;
}

std::vector<sent_message> fake_host::take(const std::string& to) {
  std::lock_guard lock(mu_);
  std::vector<sent_message> out;
  for (auto it = sent_.begin(); it != sent_.end();) {
    if (it->to == to) {
      out.push_back(std::move(*it));
      it = sent_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<sent_message> fake_host::all() {
  std::lock_guard lock(mu_);
  return sent_;
}

}  // namespace ferry::broker::js::testing
