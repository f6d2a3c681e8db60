#include <gtest/gtest.h>

#include "base/rfc3339.h"
#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using namespace std::chrono_literals;
using testing::chain_runner;
using testing::test_transport;

message order() {
  message m("orders.created", R"({"id":7})");
  m.key = "customer-1";
  m.headers.set("Content-Type", "application/json");
  return m;
}

TEST(DeadLetterTest, DropIsPublishedWithItsHeadersAndTheOriginalAcked) {
  test_transport dlq;
  chain_runner c({dead_letter(dlq, "dlq.orders")}, [](message&) { return outcome::drop(invalid_argument("bad")); });
  message m = order();
  m.delivery.delivery_count = 2;
  const auto before = std::chrono::system_clock::now();
  auto r = c.run(m);
  EXPECT_EQ(r.state, settlement::acked);
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].subject, "dlq.orders");
  EXPECT_EQ(dl[0].payload, R"({"id":7})");
  EXPECT_EQ(dl[0].key, "customer-1");
  EXPECT_EQ(dl[0].headers.value_or("Content-Type", ""), "application/json");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_reason, ""), "invalid_argument: bad");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_subject, ""), "orders.created");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_deliveries, ""), "2");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_handler, ""), "h");
  auto t = parse_rfc3339(dl[0].headers.value_or(header::dead_letter_time, ""));
  ASSERT_TRUE(t);
  EXPECT_GE(*t, std::chrono::time_point_cast<std::chrono::seconds>(before));
  EXPECT_LE(*t, std::chrono::system_clock::now());
}

// A crash between the dead letter's publish and the original's ack redelivers the original: its
// second letter must carry the first one's id, so that a stream's duplicate window drops it.
TEST(DeadLetterTest, EveryDeliveryOfOneMessageGivesTheSameLetterId) {
  test_transport dlq;
  chain_runner c({dead_letter(dlq, "dlq")}, [](message&) { return outcome::drop(invalid_argument("bad")); });
  message first = order();
  first.id = "order-7";
  message again = first;
  again.delivery.delivery_count = 2;
  message other = order();
  other.id = "order-8";
  c.run(first);
  c.run(again);
  c.run(other);
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 3u);
  EXPECT_EQ(dl[0].id, "h:order-7");
  EXPECT_EQ(dl[1].id, dl[0].id);
  EXPECT_EQ(dl[2].id, "h:order-8");
}

TEST(DeadLetterTest, FailedPublishRetriesInsteadOfAcking) {
  test_transport dlq;
  dlq.fail_publishes(1);
  chain_runner c({dead_letter(dlq, "dlq")}, [](message&) { return outcome::drop(invalid_argument("bad")); });
  auto r = c.run(order());
  EXPECT_EQ(r.state, settlement::nacked);
  EXPECT_TRUE(dlq.published().empty());
}

TEST(DeadLetterTest, RetryPassesUntilMaxDeliveriesWithoutARetryMiddleware) {
  test_transport dlq;
  chain_runner c({dead_letter(dlq, "dlq", {.max_deliveries = 3})},
                 [](message&) { return outcome::retry(unavailable("db")); });
  for (std::uint64_t n = 1; n <= 3; ++n) {
    message m = order();
    m.delivery.delivery_count = n;
    auto r = c.run(m);
    EXPECT_EQ(r.state, n < 3 ? settlement::nacked : settlement::acked) << n;
  }
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_deliveries, ""), "3");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_reason, ""), "unavailable: db");
}

TEST(DeadLetterTest, AckAndSettledMessagesAreLeftAlone) {
  test_transport dlq;
  chain_runner ack({dead_letter(dlq, "dlq")}, [](message&) { return outcome::ack(); });
  EXPECT_EQ(ack.run(order()).state, settlement::acked);
  chain_runner self({dead_letter(dlq, "dlq")}, [](message& m) {
    m.term("mine");
    return outcome::drop(invalid_argument("x"));
  });
  EXPECT_EQ(self.run(order()).state, settlement::terminated);
  EXPECT_TRUE(dlq.published().empty());
}

// Retry and dead_letter must give the same result whichever runs outermost.
class RetryAndDeadLetterOrderTest : public ::testing::TestWithParam<bool> {
 protected:
  std::vector<handler_middleware> chain(publisher& dlq, retry_policy p, dead_letter_options o = {}) {
    auto r = retry(std::move(p));
    auto d = dead_letter(dlq, "dlq", o);
    return GetParam() ? std::vector<handler_middleware>{r, d} : std::vector<handler_middleware>{d, r};
  }
  static retry_policy quick(std::uint32_t max_attempts, retry_mode mode = retry_mode::in_process) {
    retry_policy p;
    p.max_attempts = max_attempts;
    p.initial_interval = 1ms;
    p.jitter = jitter::none;
    p.mode = mode;
    return p;
  }
};

TEST_P(RetryAndDeadLetterOrderTest, InProcessExhaustionWritesExactlyOneDeadLetter) {
  test_transport dlq;
  int calls = 0;
  chain_runner c(chain(dlq, quick(3)), [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  auto r = c.run(order());
  EXPECT_EQ(r.state, settlement::acked);
  EXPECT_EQ(calls, 3);
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_reason, ""), "unavailable: db");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_deliveries, ""), "3");
}

TEST_P(RetryAndDeadLetterOrderTest, RedeliveryExhaustionWritesExactlyOneDeadLetter) {
  test_transport dlq;
  int calls = 0;
  chain_runner c(chain(dlq, quick(3, retry_mode::redeliver)), [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  std::vector<settlement> states;
  for (std::uint64_t n = 1; n <= 3; ++n) {
    message m = order();
    m.delivery.delivery_count = n;
    states.push_back(c.run(m).state);
  }
  EXPECT_EQ(states, (std::vector{settlement::nacked, settlement::nacked, settlement::acked}));
  EXPECT_EQ(calls, 3);
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_deliveries, ""), "3");
}

TEST_P(RetryAndDeadLetterOrderTest, RetryOwnsTheDecisionOverMaxDeliveries) {
  test_transport dlq;
  int calls = 0;
  chain_runner c(chain(dlq, quick(4), {.max_deliveries = 2}), [&](message&) {
    ++calls;
    return outcome::retry(unavailable("db"));
  });
  message m = order();
  m.delivery.delivery_count = 2;  // at max_deliveries already: retry still gets attempts 2..4
  EXPECT_EQ(c.run(m).state, settlement::acked);
  EXPECT_EQ(calls, 3);
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_deliveries, ""), "4");
}

TEST_P(RetryAndDeadLetterOrderTest, HandlerDropIsDeadLetteredOnceAndNotRetried) {
  test_transport dlq;
  int calls = 0;
  chain_runner c(chain(dlq, quick(5)), [&](message&) {
    ++calls;
    return outcome::drop(invalid_argument("poison"));
  });
  EXPECT_EQ(c.run(order()).state, settlement::acked);
  EXPECT_EQ(calls, 1);
  auto dl = dlq.published();
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_reason, ""), "invalid_argument: poison");
  EXPECT_EQ(dl[0].headers.value_or(header::dead_letter_deliveries, ""), "1");
}

TEST_P(RetryAndDeadLetterOrderTest, FailedDeadLetterPublishNacksForALaterTry) {
  test_transport dlq;
  dlq.fail_publishes(-1);
  chain_runner c(chain(dlq, quick(2)), [](message&) { return outcome::retry(unavailable("db")); });
  EXPECT_EQ(c.run(order()).state, settlement::nacked);
  dlq.fail_publishes(0);
  message again = order();
  again.delivery.delivery_count = 2;  // the redelivery: budget spent after one more attempt
  EXPECT_EQ(c.run(again).state, settlement::acked);
  EXPECT_EQ(dlq.published().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(BothOrders, RetryAndDeadLetterOrderTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "RetryOutside" : "DeadLetterOutside"; });

}  // namespace
}  // namespace ferry::middleware
