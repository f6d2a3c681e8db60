// suite: the fixture and helpers of the SDK conformance suite. Every test is parameterized by the
// instance name (environment.h) and skips, naming the capability, where the transport does not
// declare what the test needs.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "environment.h"
#include "ferry/message.h"
#include "ferry/transport.h"

namespace ferry::conformance {

using namespace std::chrono_literals;

// Generous: the suite waits on conditions, never on fixed sleeps, and runs on 2 loaded cores.
inline constexpr auto deadline = std::chrono::seconds(30);

// Waits up to `timeout` for `pred`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = deadline);

// Headers as a multimap: NATS keeps the order of one name's values, not the order across names
// (nats.c keeps headers in a hash map), so that is what the suite compares.
std::multimap<std::string, std::string> as_multimap(const header_map& h);

// Thread-safe record of deliveries.
class collector {
 public:
  // Records and acks every delivery.
  delivery_callback acking();
  // Records only (the test settles).
  delivery_callback keeping();
  void add(message m);
  // Waits until `n` distinct message ids were seen.
  bool wait_unique(std::size_t n, std::chrono::milliseconds timeout = deadline);
  bool wait_total(std::size_t n, std::chrono::milliseconds timeout = deadline);
  std::size_t unique();
  std::size_t total();
  std::set<std::string> ids();
  std::vector<message> messages();  // copies (they share settlement with the originals)

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<message> all_;   // guarded by mu_
  std::set<std::string> ids_;  // guarded by mu_
};

// Publishes `m`, retrying (same id) for up to `timeout` while the broker is away.
status publish_retry(transport& t, message m, std::chrono::milliseconds timeout = deadline);

class Conformance : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;

  [[nodiscard]] const instance& inst() const { return *inst_; }
  transport& t() { return *t_; }
  // A second transport on the same bus (inproc: the same transport), made on first use.
  transport& other();
  // A new connection, owned by the caller (inproc: a view of t(), closing it does nothing).
  std::unique_ptr<transport> fresh();
  // A subject unique to this test run: conf.<run>.<test>.<name> (inside the CONF stream).
  [[nodiscard]] std::string subject(const std::string& name) const { return prefix_ + "." + name; }
  // A subject outside the streams: rpc.<run>.<test>.<name>.
  [[nodiscard]] std::string rpc_subject(const std::string& name) const {
    return "rpc" + prefix_.substr(4) + "." + name;
  }
  // A consumer group name unique to this test.
  [[nodiscard]] std::string group(const std::string& name) const { return group_prefix_ + name; }
  [[nodiscard]] capabilities caps() { return t_->caps(); }
  // Where the transport keeps messages only for groups that exist (no_replay: RabbitMQ's queues),
  // subscribes `group` to `subject` with `o` and stops at once, so that the group exists before the
  // test publishes what its members must find. Elsewhere nothing: the first subscription decides a
  // durable consumer's settings (JetStream), and it is the test's own.
  void declare_group(const std::string& subject, const std::string& group, subscription_options o = {});

 private:
  const instance* inst_ = nullptr;
  std::unique_ptr<transport> t_;
  std::mutex other_mu_;
  std::unique_ptr<transport> other_;  // guarded by other_mu_ (created once)
  std::string prefix_;
  std::string group_prefix_;
};

// Skips the test unless the transport declares `cap` (a capabilities field).
#define FERRY_REQUIRE_CAP(cap)                                 \
  do {                                                         \
    if (!caps().cap) GTEST_SKIP() << "needs capability " #cap; \
  } while (0)

}  // namespace ferry::conformance
