// The load mix agrees with the rules it relies on: every order expected confirmed passes the
// payment rules and asks only for plentiful skus, and the mix holds all four outcomes.
#include "scenario.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "payment_rules.h"

namespace shop::load {
namespace {

TEST(ScenarioTest, ExpectationsFollowTheRules) {
  std::map<std::string, int> outcomes;
  std::size_t duplicates = 0;
  for (std::size_t i = 0; i < 1000; ++i) {
    const planned_order p = plan_order(i, 20);
    const auto& r = p.request;
    const bool scarce =
        std::any_of(r.items.begin(), r.items.end(), [](const line_item& l) { return l.sku == scarce_sku; });
    const bool approved = decide_charge({.order_id = "o", .customer = r.customer, .amount = r.amount}).approved;
    ++outcomes[p.expected_status + "/" + p.expected_reason];
    duplicates += p.duplicate ? 1 : 0;
    if (scarce) {
      EXPECT_EQ(p.expected_reason, reason::out_of_stock) << i;
    } else if (r.customer == stalled_customer) {
      EXPECT_EQ(p.expected_reason, reason::payment_timeout) << i;
    } else if (!approved) {
      EXPECT_EQ(p.expected_reason, reason::payment_declined) << i;
    } else {
      EXPECT_EQ(p.expected_status, "confirmed") << i;
    }
    order_request parsed;
    EXPECT_EQ(parse_order_request(order_body(r), parsed), "") << i;
  }
  EXPECT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes["cancelled/" + std::string(reason::payment_timeout)], 25);
  EXPECT_EQ(duplicates, 50u);
}

}  // namespace
}  // namespace shop::load
