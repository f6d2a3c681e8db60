// fake_host and fake_clock: JetStream's surroundings in its unit tests. The host routes what
// JetStream publishes to its own internal subscribers (as the core does) and records everything
// it publishes; "clients" are subjects the test declares interest in. Time moves only when the
// test says so. Every call runs on the test's thread with no worker (nullptr), so the work that
// ferryd defers to the end of a worker round happens at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/js/host.h"

namespace ferry::broker::js::testing {

class fake_clock final : public clock {
 public:
  std::int64_t wall_ns() override { return wall_.load(); }
  std::int64_t steady_ns() override { return steady_.load(); }
  // Moves both clocks on by `ns`.
  void advance(std::int64_t ns) {
    wall_ += ns;
    steady_ += ns;
  }
  // Steps the wall clock alone (an operator or NTP setting the system time).
  void step_wall(std::int64_t ns) { wall_ += ns; }

 private:
  std::atomic<std::int64_t> wall_{1'700'000'000'000'000'000};  // 2023-11-14
  std::atomic<std::int64_t> steady_{1'000'000'000'000};
};

// One message JetStream published.
struct sent_message {
  std::string subject;  // the subject it carries
  std::string to;       // the subject it was routed on (a consumer's inbox for deliveries)
  std::string reply, headers, data;
  // The status line's code for a headers-only status message ("NATS/1.0 408 ..."), else 0.
  [[nodiscard]] int status_code() const;
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

class fake_host final : public host {
 public:
  std::size_t publish(worker* w, std::string_view subject, std::string_view reply, std::string_view headers,
                      std::string_view data, const route_options& o, bool empty_reply_field) override;
  bool has_interest(std::string_view subject) override;
  subscription_ptr subscribe(const std::string& subject, internal_handler fn) override;
  void unsubscribe(const subscription_ptr& s) override;
  void at_round_end(worker& w, std::shared_ptr<round_task> t) override;
  worker* current_worker() override { return nullptr; }

  // A client subscribes to `pattern` (interest for push consumers, inboxes for replies).
  void listen(const std::string& pattern);
  void unlisten(const std::string& pattern);
  // A client publishes: routed to the internal subscribers (API, stream subjects, acks).
  // Returns whether any internal subscriber took it.
  bool client_publish(std::string_view subject, std::string_view data, std::string_view reply = {},
                      std::string_view headers = {});
  // Takes everything published to `to` (exact subject) so far, in order.
  std::vector<sent_message> take(const std::string& to);
  // Everything published so far (not taken), in order.
  std::vector<sent_message> all();

 private:
  struct internal {
    subscription_ptr sub;
    internal_handler fn;
  };
  std::vector<internal> matching(std::string_view subject);
  // Delivers to the internal subscribers matching `to` (the core's route()): the number that
  // took the message.
  std::size_t route_internal(std::string_view subject, std::string_view to, std::string_view reply,
                             std::string_view headers, std::string_view data, worker* w);

  std::mutex mu_;
  std::vector<internal> internal_;    // guarded by mu_
  std::vector<std::string> clients_;  // guarded by mu_
  std::vector<sent_message> sent_;    // guarded by mu_
};

}  // namespace ferry::broker::js::testing
