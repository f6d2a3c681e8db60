#include <gtest/gtest.h>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using testing::chain_runner;

TEST(RecovererTest, StandardExceptionBecomesARetryWithItsText) {
  chain_runner c({recoverer()}, [](message&) -> outcome { throw std::runtime_error("boom"); });
  auto r = c.run(message("in", ""));
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_EQ(r.result.why(), internal_error("boom"));
  EXPECT_EQ(c.counters.exceptions.load(), 0u);  // caught by the middleware, not the router
}

TEST(RecovererTest, AnythingElseToo) {
  chain_runner c({recoverer()}, [](message&) -> outcome { throw 42; });
  auto r = c.run(message("in", ""));
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_EQ(r.result.why(), internal_error("non-standard exception"));
}

TEST(RecovererTest, OutcomesPassUnchanged) {
  chain_runner c({recoverer()}, [](message&) { return outcome::drop(invalid_argument("x")); });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::terminated);
}

TEST(RecovererTest, RetryAroundRecovererRetriesExceptions) {
  int calls = 0;
  retry_policy p;
  p.initial_interval = std::chrono::milliseconds(1);
  p.jitter = jitter::none;
  chain_runner c({retry(p), recoverer()}, [&](message&) -> outcome {
    if (++calls < 3) throw std::runtime_error("flaky");
    return outcome::ack();
  });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::acked);
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace ferry::middleware
