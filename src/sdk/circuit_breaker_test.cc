#include <gtest/gtest.h>

#include <thread>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using namespace std::chrono_literals;
using testing::chain_runner;

TEST(BreakerTest, OpensAfterConsecutiveFailuresThenHalfOpensThenCloses) {
  breaker b({.failure_threshold = 2, .open_for = 100ms, .half_open_successes = 1});
  EXPECT_EQ(b.current(), breaker::state::closed);
  ASSERT_TRUE(b.admit().allowed);
  b.record(false);
  ASSERT_TRUE(b.admit().allowed);
  b.record(true);  // resets the count: failures must be consecutive
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.admit().allowed);
    b.record(false);
  }
  EXPECT_EQ(b.current(), breaker::state::open);
  auto refused = b.admit();
  EXPECT_FALSE(refused.allowed);
  EXPECT_GT(refused.retry_after, 0ms);
  EXPECT_LE(refused.retry_after, 100ms);
  std::this_thread::sleep_for(110ms);
  EXPECT_EQ(b.current(), breaker::state::half_open);
  ASSERT_TRUE(b.admit().allowed);   // the trial
  EXPECT_FALSE(b.admit().allowed);  // only one trial at a time
  b.record(true);
  EXPECT_EQ(b.current(), breaker::state::closed);
  EXPECT_TRUE(b.admit().allowed);
}

TEST(BreakerTest, FailedTrialOpensAgain) {
  breaker b({.failure_threshold = 1, .open_for = 50ms, .half_open_successes = 2});
  ASSERT_TRUE(b.admit().allowed);
  b.record(false);
  std::this_thread::sleep_for(60ms);
  ASSERT_TRUE(b.admit().allowed);
  b.record(true);  // one of two successes needed
  EXPECT_EQ(b.current(), breaker::state::half_open);
  ASSERT_TRUE(b.admit().allowed);
  b.record(false);
  EXPECT_EQ(b.current(), breaker::state::open);
}

TEST(BreakerTest, MiddlewareRefusesWithoutCallingTheHandlerWhileOpen) {
  auto b = std::make_shared<breaker>(breaker_options{.failure_threshold = 2, .open_for = 1s});
  int calls = 0;
  chain_runner c({circuit_breaker(b)}, [&](message&) {
    ++calls;
    return outcome::retry(unavailable("downstream"));
  });
  c.run(message("in", ""));
  c.run(message("in", ""));
  EXPECT_EQ(b->current(), breaker::state::open);
  auto r = c.run(message("in", ""));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_EQ(r.result.why().code(), status_code::unavailable);
  EXPECT_GT(r.delay, 900ms);  // the time left open
  EXPECT_LE(r.delay, 1s);
}

TEST(BreakerTest, DropsAndAcksAreNotFailures) {
  auto b = std::make_shared<breaker>(breaker_options{.failure_threshold = 1});
  chain_runner c({circuit_breaker(b)}, [](message& m) {
    return m.payload == "drop" ? outcome::drop(invalid_argument("x")) : outcome::ack();
  });
  c.run(message("in", "drop"));
  c.run(message("in", "ok"));
  EXPECT_EQ(b->current(), breaker::state::closed);
}

TEST(BreakerTest, ExceptionsCountAsFailures) {
  auto b = std::make_shared<breaker>(breaker_options{.failure_threshold = 1});
  handler_info info;
  auto h = circuit_breaker(b).wrap([](message&) -> outcome { throw std::runtime_error("x"); }, info);
  message m("in", "");
  EXPECT_THROW(h(m), std::runtime_error);
  EXPECT_EQ(b->current(), breaker::state::open);
}

}  // namespace
}  // namespace ferry::middleware
