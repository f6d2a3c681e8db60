// events, codec and payment rules: order validation, events through CloudEvents and back,
// poison messages refused with a reason, and the payment rules.
#include "events.h"

#include <gtest/gtest.h>

#include "codec.h"
#include "payment_rules.h"

namespace shop {
namespace {

TEST(OrderRequestTest, AcceptsAValidOrder) {
  order_request o;
  EXPECT_EQ(parse_order_request(R"({"customer":"ann","items":[{"sku":"b","qty":2}],"amount":12.5})", o), "");
  EXPECT_EQ(o.customer, "ann");
  ASSERT_EQ(o.items.size(), 1u);
  EXPECT_EQ(o.items[0], (line_item{"b", 2}));
  EXPECT_EQ(o.amount, 12.5);
}

TEST(OrderRequestTest, SaysWhatIsWrong) {
  order_request o;
  EXPECT_EQ(parse_order_request("{", o), "body is not valid JSON");
  EXPECT_EQ(parse_order_request("[]", o), "body must be a JSON object");
  EXPECT_NE(parse_order_request(R"({"items":[{"sku":"b","qty":1}],"amount":1})", o).find("customer"),
            std::string::npos);
  EXPECT_NE(parse_order_request(R"({"customer":"a","items":[],"amount":1})", o).find("items"), std::string::npos);
  EXPECT_NE(parse_order_request(R"({"customer":"a","items":[{"sku":"b","qty":0}],"amount":1})", o).find("items[0].qty"),
            std::string::npos);
  EXPECT_NE(
      parse_order_request(R"({"customer":"a","items":[{"sku":"b","qty":1.5}],"amount":1})", o).find("items[0].qty"),
      std::string::npos);
  EXPECT_NE(parse_order_request(R"({"customer":"a","items":[{"qty":1}],"amount":1})", o).find("items[0].sku"),
            std::string::npos);
  EXPECT_NE(parse_order_request(R"({"customer":"a","items":[{"sku":"b","qty":1}],"amount":-1})", o).find("amount"),
            std::string::npos);
}

TEST(CodecTest, RoundTripsAnEventWithItsIdAsMessageId) {
  order_created e{.order_id = "o-1", .customer = "ann", .items = {{"b", 2}}, .amount = 3, .created_at = "t"};
  ferry::message m = make_event(subject::order_created, e, "/test");
  EXPECT_EQ(m.subject, "order.created");
  EXPECT_EQ(m.id, "o-1");
  EXPECT_EQ(event_id_of(m), "o-1");
  auto back = read_event<order_created>(m);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->customer, "ann");
  EXPECT_EQ(back->items, e.items);
  EXPECT_EQ(event_id(order_confirmed{.order_id = "o-1"}), "o-1.confirmed");
  EXPECT_EQ(event_id(order_cancelled{.order_id = "o-1"}), "o-1.cancelled");
}

TEST(CodecTest, RefusesPoisonWithAReason) {
  ferry::message junk("order.created", "not an order {{{");
  EXPECT_EQ(read_event<order_created>(junk).status().code(), ferry::status_code::invalid_argument);
  EXPECT_EQ(event_id_of(junk), "");
  ferry::message wrong_type = make_event(subject::order_confirmed, order_confirmed{.order_id = "o"}, "/test");
  EXPECT_NE(read_event<order_created>(wrong_type).status().message().find("unexpected event type"), std::string::npos);
  ferry::message no_order = encode_event(subject::order_created, order_created::type, "x", "/test", {{"a", 1}});
  EXPECT_NE(read_event<order_created>(no_order).status().message().find("invalid data"), std::string::npos);
}

TEST(PaymentRulesTest, DeclinesByRule) {
  EXPECT_TRUE(decide_charge({.order_id = "o", .customer = "ann", .amount = max_charge}).approved);
  EXPECT_EQ(decide_charge({.order_id = "o", .customer = "ann", .amount = 5}).payment_id, "pay-o");
  EXPECT_FALSE(decide_charge({.order_id = "o", .customer = "ann", .amount = max_charge + 1}).approved);
  const charge_reply m = decide_charge({.order_id = "o", .customer = std::string(blocked_customer), .amount = 1});
  EXPECT_FALSE(m.approved);
  EXPECT_EQ(m.reason, "card declined");
}

}  // namespace
}  // namespace shop
