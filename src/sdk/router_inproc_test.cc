// The router over the real in-process transport (src/transport/inproc): pipelines, per-key order,
// redelivery-based retries ending in a dead letter, and stop.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "ferry/inproc.h"
#include "ferry/middleware.h"
#include "ferry/router.h"
#include "sdk/test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

class RouterInprocTest : public ::testing::Test {
 protected:
  std::unique_ptr<transport> t_ = inproc::make_transport({.workers = 2});
};

TEST_F(RouterInprocTest, OutputsFlowToTheNextHandler) {
  router r(*t_);
  std::atomic<int> received{0};
  handler_options first;
  first.subject = "orders.created";
  first.publish_subject = "orders.accepted";
  first.concurrency = 4;
  ASSERT_TRUE(r.add_handler(first, [](message& m) -> outcome { return std::vector{message("", m.payload)}; }).is_ok());
  handler_options second;
  second.subject = "orders.accepted";
  ASSERT_TRUE(r.add_handler(second, [&](message&) {
                 ++received;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(t_->publish(message("orders.created", std::to_string(i))).is_ok());
  ASSERT_TRUE(eventually([&] { return received.load() == 200; }));
  ASSERT_TRUE(eventually([&] { return r.stats("orders.created").acked == 200; }));
  EXPECT_EQ(r.stats("orders.created").published, 200u);
}

TEST_F(RouterInprocTest, PerKeyOrderWithConcurrency8) {
  router r(*t_);
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen;
  std::atomic<int> done{0};
  handler_options o;
  o.subject = "events";
  o.concurrency = 8;
  o.order = ordering::per_key;
  ASSERT_TRUE(r.add_handler(o, [&](message& m) {
                 std::this_thread::sleep_for(std::chrono::microseconds(50));
                 {
                   std::lock_guard lock(mu);
                   seen[m.key].push_back(std::stoi(m.payload));
                 }
                 ++done;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  constexpr int keys = 6, per_key = 50;
  for (int i = 0; i < per_key; ++i)
    for (int k = 0; k < keys; ++k) {
      message m("events", std::to_string(i));
      m.key = "k" + std::to_string(k);
      ASSERT_TRUE(t_->publish(std::move(m)).is_ok());
    }
  ASSERT_TRUE(eventually([&] { return done.load() == keys * per_key; }, 20s));
  for (auto& [key, v] : seen) {
    ASSERT_EQ(v.size(), static_cast<std::size_t>(per_key)) << key;
    for (int i = 0; i < per_key; ++i) EXPECT_EQ(v[i], i) << key;
  }
}

TEST_F(RouterInprocTest, RedeliveredRetriesEndInOneDeadLetter) {
  router r(*t_);
  std::mutex mu;
  std::vector<message> dead;
  auto dlq = t_->subscribe("dlq.orders", {}, [&](message m) {
    std::lock_guard lock(mu);
    dead.push_back(std::move(m));
  });
  ASSERT_TRUE(dlq.is_ok());
  std::atomic<int> calls{0};
  middleware::retry_policy p;
  p.max_attempts = 3;
  p.initial_interval = 1ms;
  p.mode = middleware::retry_mode::redeliver;
  r.use(middleware::dead_letter(*t_, "dlq.orders"));
  r.use(middleware::retry(p));
  handler_options o;
  o.subject = "orders.created";
  ASSERT_TRUE(r.add_handler(o, [&](message&) {
                 ++calls;
                 return outcome::retry(unavailable("db down"));
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  ASSERT_TRUE(t_->publish(message("orders.created", "o1")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return dead.size() == 1;
  }));
  ASSERT_TRUE(eventually([&] { return r.stats("orders.created").acked == 1; }));
  std::this_thread::sleep_for(20ms);  // nothing more arrives
  std::lock_guard lock(mu);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(dead[0].payload, "o1");
  EXPECT_EQ(dead[0].headers.value_or(header::dead_letter_deliveries, ""), "3");
  EXPECT_EQ(dead[0].headers.value_or(header::dead_letter_reason, ""), "unavailable: db down");
  EXPECT_EQ(r.stats("orders.created").retried, 2u);
}

TEST_F(RouterInprocTest, StopFinishesRunningWorkAndStopsIntake) {
  router r(*t_);
  testing::gate started;
  std::atomic<int> finished{0};
  handler_options o;
  o.subject = "work";
  ASSERT_TRUE(r.add_handler(o, [&](message&) {
                 started.open();
                 std::this_thread::sleep_for(20ms);
                 ++finished;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  ASSERT_TRUE(t_->publish(message("work", "")).is_ok());
  ASSERT_TRUE(started.wait());
  r.stop(2s);
  EXPECT_EQ(finished.load(), 1);
  EXPECT_EQ(r.stats("work").acked, 1u);
  ASSERT_TRUE(t_->publish(message("work", "")).is_ok());  // nobody listens any more
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(r.stats("work").received, 1u);
}

}  // namespace
}  // namespace ferry
