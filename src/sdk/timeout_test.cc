#include <gtest/gtest.h>

#include <thread>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using namespace std::chrono_literals;
using testing::chain_runner;

TEST(TimeoutTest, LateHandlerBecomesARetryAndItsOutputsAreDiscarded) {
  bool saw_deadline = false, past_at_end = false;
  chain_runner c({timeout(10ms)}, [&](message& m) -> outcome {
    saw_deadline = m.deadline != std::chrono::steady_clock::time_point::max() && !m.past_deadline();
    std::this_thread::sleep_for(25ms);
    past_at_end = m.past_deadline();
    return std::vector{message("out", "")};
  });
  auto r = c.run(message("in", ""));
  EXPECT_TRUE(saw_deadline);
  EXPECT_TRUE(past_at_end);
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_EQ(r.result.why().code(), status_code::deadline_exceeded);
  EXPECT_TRUE(c.out.published().empty());
}

TEST(TimeoutTest, HandlerInTimeKeepsItsOutcome) {
  chain_runner c({timeout(1s)}, [](message&) -> outcome { return std::vector{message("out", "")}; });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::acked);
  EXPECT_EQ(c.out.published().size(), 1u);
}

TEST(TimeoutTest, LateDropStaysADrop) {
  chain_runner c({timeout(1ms)}, [](message&) {
    std::this_thread::sleep_for(5ms);
    return outcome::drop(invalid_argument("bad"));
  });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::terminated);
}

TEST(TimeoutTest, AnEarlierOuterDeadlineWinsAndIsRestored) {
  std::chrono::steady_clock::time_point inner{};
  chain_runner c({timeout(1h)}, [&](message& m) {
    inner = m.deadline;
    return outcome::ack();
  });
  message m("in", "");
  const auto outer = std::chrono::steady_clock::now() + 1s;
  m.deadline = outer;
  c.run(m);
  EXPECT_EQ(inner, outer);
}

TEST(TimeoutTest, DeadlineIsRestoredWhenTheHandlerThrows) {
  handler_info info;
  auto h = timeout(1s).wrap([](message&) -> outcome { throw std::runtime_error("x"); }, info);
  message m("in", "");
  EXPECT_THROW(h(m), std::runtime_error);
  EXPECT_EQ(m.deadline, std::chrono::steady_clock::time_point::max());
}

}  // namespace
}  // namespace ferry::middleware
