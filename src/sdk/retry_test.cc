#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using namespace std::chrono_literals;
using testing::chain_runner;

retry_policy quick(std::uint32_t max_attempts) {
  retry_policy p;
  p.max_attempts = max_attempts;
  p.initial_interval = 1ms;
  p.max_interval = 2ms;
  p.jitter = jitter::none;
  return p;
}

TEST(RetryPolicyTest, BackoffGrowsByTheMultiplierUpToTheCap) {
  retry_policy p;
  p.initial_interval = 100ms;
  p.multiplier = 2;
  p.max_interval = 1000ms;
  p.jitter = jitter::none;
  EXPECT_EQ(p.backoff(1, 0ms, 0.3), 100ms);
  EXPECT_EQ(p.backoff(2, 0ms, 0.3), 200ms);
  EXPECT_EQ(p.backoff(4, 0ms, 0.3), 800ms);
  EXPECT_EQ(p.backoff(5, 0ms, 0.3), 1000ms);
  EXPECT_EQ(p.backoff(60, 0ms, 0.3), 1000ms);
}

TEST(RetryPolicyTest, FullJitterIsUniformUpToTheBackoff) {
  retry_policy p;
  p.initial_interval = 100ms;
  p.jitter = jitter::full;
  EXPECT_EQ(p.backoff(2, 0ms, 0.0), 0ms);
  EXPECT_EQ(p.backoff(2, 0ms, 0.5), 100ms);
  EXPECT_EQ(p.backoff(2, 0ms, 1.0), 200ms);
}

TEST(RetryPolicyTest, DecorrelatedJitterStaysBetweenInitialAndThreeTimesThePrevious) {
  retry_policy p;
  p.initial_interval = 100ms;
  p.max_interval = 1000ms;
  p.jitter = jitter::decorrelated;
  EXPECT_EQ(p.backoff(3, 300ms, 0.0), 100ms);
  EXPECT_EQ(p.backoff(3, 300ms, 1.0), 900ms);
  EXPECT_EQ(p.backoff(3, 500ms, 1.0), 1000ms);  // capped
  EXPECT_EQ(p.backoff(1, 0ms, 1.0), 100ms);     // no previous: the previous backoff (none) -> initial
}

TEST(RetryTest, RetriesInProcessUntilTheHandlerSucceeds) {
  int calls = 0;
  std::vector<std::uint64_t> retried_attempts;
  retry_policy p = quick(5);
  p.on_retry = [&](const message&, const status&, std::uint64_t attempt, std::chrono::milliseconds) {
    retried_attempts.push_back(attempt);
  };
  chain_runner c({retry(p)}, [&](message& m) -> outcome {
    EXPECT_EQ(m.attempt(), static_cast<std::uint64_t>(calls + 1));
    return ++calls < 3 ? outcome::retry(unavailable("db")) : outcome::ack();
  });
  auto r = c.run(message("in", ""));
  EXPECT_EQ(r.state, settlement::acked);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(retried_attempts, (std::vector<std::uint64_t>{1, 2}));
}

TEST(RetryTest, ExhaustionDropsAndCallsTheHook) {
  int calls = 0, exhausted = 0;
  retry_policy p = quick(3);
  p.on_exhausted = [&](const message&, const status& why, std::uint64_t attempts) {
    ++exhausted;
    EXPECT_EQ(attempts, 3u);
    EXPECT_EQ(why.code(), status_code::unavailable);
  };
  chain_runner c({retry(p)}, [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  auto r = c.run(message("in", ""));
  EXPECT_EQ(r.state, settlement::terminated);
  EXPECT_EQ(r.reason, "unavailable: db");
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(exhausted, 1);
}

TEST(RetryTest, TransportRedeliveriesCountAgainstMaxAttempts) {
  int calls = 0;
  chain_runner c({retry(quick(4))}, [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  message m("in", "");
  m.delivery.delivery_count = 3;  // attempts 1 and 2 happened before
  auto r = c.run(m);
  EXPECT_EQ(calls, 2);  // attempts 3 and 4
  EXPECT_EQ(r.state, settlement::terminated);
}

TEST(RetryTest, ShouldRetryRejectingAFailureDropsAtOnce) {
  int calls = 0;
  retry_policy p = quick(5);
  p.should_retry = [](const status& s) { return s.code() != status_code::invalid_argument; };
  chain_runner c({retry(p)}, [&](message&) {
    ++calls;
    return outcome::retry(invalid_argument("never valid"));
  });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::terminated);
  EXPECT_EQ(calls, 1);
}

TEST(RetryTest, DropIsNotRetried) {
  int calls = 0;
  chain_runner c({retry(quick(5))}, [&](message&) {
    ++calls;
    return outcome::drop(invalid_argument("poison"));
  });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::terminated);
  EXPECT_EQ(calls, 1);
}

TEST(RetryTest, MaxElapsedBoundsTheRetries) {
  int calls = 0;
  retry_policy p;
  p.max_attempts = 0;  // only the time budget
  p.initial_interval = 20ms;
  p.multiplier = 1;
  p.jitter = jitter::none;
  p.max_elapsed = 50ms;
  chain_runner c({retry(p)}, [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.run(message("in", ""));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.state, settlement::terminated);
  // At 0, 20 and 40 ms (a retry at 60 ms would pass the budget); 2 when a sleep overshoots.
  EXPECT_GE(calls, 2);
  EXPECT_LE(calls, 3);
  EXPECT_LT(took, 200ms);
}

TEST(RetryTest, TheHandlersDelayIsAMinimum) {
  int calls = 0;
  chain_runner c({retry(quick(2))},
                 [&](message&) { return ++calls == 1 ? outcome::retry(unavailable("later"), 30ms) : outcome::ack(); });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.run(message("in", "")).state, settlement::acked);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
}

TEST(RetryTest, RedeliverModeNacksWithTheBackoffAndDropsAtMaxAttempts) {
  int calls = 0;
  retry_policy p;
  p.max_attempts = 3;
  p.initial_interval = 100ms;
  p.jitter = jitter::none;
  p.mode = retry_mode::redeliver;
  chain_runner c({retry(p)}, [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  for (std::uint64_t delivery = 1; delivery <= 3; ++delivery) {
    message m("in", "");
    m.delivery.delivery_count = delivery;
    auto r = c.run(m);
    if (delivery < 3) {
      EXPECT_EQ(r.state, settlement::nacked);
      EXPECT_EQ(r.delay, delivery == 1 ? 100ms : 200ms);
    } else {
      EXPECT_EQ(r.state, settlement::terminated);
    }
  }
  EXPECT_EQ(calls, 3);  // one call per delivery: nothing sleeps in process
}

TEST(RetryTest, RedeliverModeRunsInProcessWithoutRedeliveryCounting) {
  int calls = 0;
  retry_policy p = quick(3);
  p.mode = retry_mode::redeliver;
  chain_runner c(
      {retry(p)},
      [&](message&) {
        ++calls;
        return outcome::retry(unavailable("db"));
      },
      capabilities{});
  EXPECT_EQ(c.run(message("in", "")).state, settlement::terminated);
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, RouterStopEndsTheBackoffAndNacks) {
  retry_policy p;
  p.initial_interval = 10s;
  p.jitter = jitter::none;
  chain_runner c({retry(p)}, [](message&) { return outcome::retry(unavailable("db")); });
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    c.stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.run(message("in", ""));
  stopper.join();
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(RetryTest, DoesNotSleepPastTheMessageDeadline) {
  int calls = 0;
  retry_policy p;
  p.initial_interval = 1s;
  p.jitter = jitter::none;
  chain_runner c({retry(p)}, [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  message m("in", "");
  m.deadline = std::chrono::steady_clock::now() + 50ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.run(m);
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_EQ(calls, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
}

}  // namespace
}  // namespace ferry::middleware
