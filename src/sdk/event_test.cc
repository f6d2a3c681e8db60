// Typed events: json_codec and protobuf_codec, make_event, decode_event and typed_handler.
#include "ferry/event.h"

#include <gtest/gtest.h>

#include "ferry/protobuf_codec.h"
#include "sdk/test_chain.h"
#include "test_event.pb.h"

namespace shop {
struct order {
  int id = 0;
  std::string item;
  friend bool operator==(const order&, const order&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(order, id, item)
}  // namespace shop

namespace ferry {
namespace {

using pb_codec = protobuf_codec<test::OrderCreated>;

cloudevent envelope() {
  cloudevent e;
  e.source = "/shop";
  e.type = "shop.order.created";
  return e;
}

TEST(JsonCodecTest, EncodesThroughAdlAndRejectsBadInput) {
  json_codec<shop::order> c;
  EXPECT_EQ(c.content_type(), "application/json");
  EXPECT_EQ(*c.encode({7, "book"}), R"({"id":7,"item":"book"})");
  EXPECT_EQ(*c.decode(R"({"id":7,"item":"book"})"), (shop::order{7, "book"}));
  EXPECT_EQ(c.decode("{oops").status().code(), status_code::invalid_argument);
  EXPECT_EQ(c.decode(R"({"id":"seven","item":"book"})").status().code(), status_code::invalid_argument);
}

TEST(ProtobufCodecTest, RoundTripsAndRejectsGarbage) {
  pb_codec c;
  test::OrderCreated o;
  o.set_id(9);
  o.set_item("lamp");
  o.add_tags("fragile");
  auto bytes = c.encode(o);
  ASSERT_TRUE(bytes.is_ok());
  auto back = c.decode(*bytes);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->id(), 9);
  EXPECT_EQ(back->item(), "lamp");
  ASSERT_EQ(back->tags_size(), 1);
  EXPECT_EQ(c.decode("\xff\xff\xff\xff").status().code(), status_code::invalid_argument);
}

class TypedEventModesTest : public ::testing::TestWithParam<content_mode> {};

TEST_P(TypedEventModesTest, JsonEventRoundTrips) {
  auto m = make_event<shop::order>("orders.created", envelope(), {42, "book"}, GetParam());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  auto e = decode_event<shop::order>(*m);
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  EXPECT_EQ(e->data, (shop::order{42, "book"}));
  EXPECT_EQ(e->envelope.type, "shop.order.created");
  EXPECT_EQ(e->envelope.datacontenttype, "application/json");
  EXPECT_EQ(e->envelope.id, m->id);
  EXPECT_EQ(e->envelope.id.size(), 22u);  // made up
  EXPECT_TRUE(e->envelope.time.has_value());
}

TEST_P(TypedEventModesTest, ProtobufEventRoundTrips) {
  test::OrderCreated o;
  o.set_id(5);
  o.set_item("desk");
  auto m = make_event<test::OrderCreated, pb_codec>("orders.created", envelope(), o, GetParam());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  if (GetParam() == content_mode::structured) {
    EXPECT_NE(m->payload.find("data_base64"), std::string::npos);
  }
  auto e = decode_event<test::OrderCreated, pb_codec>(*m);
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  EXPECT_EQ(e->data.id(), 5);
  EXPECT_EQ(e->data.item(), "desk");
  EXPECT_EQ(e->envelope.datacontenttype, "application/protobuf");
}

INSTANTIATE_TEST_SUITE_P(Modes, TypedEventModesTest, ::testing::Values(content_mode::structured, content_mode::binary),
                         [](const auto& info) { return info.param == content_mode::binary ? "Binary" : "Structured"; });

TEST(TypedHandlerTest, CallsTheFunctionWithTheDecodedEvent) {
  int seen = 0;
  testing::chain_runner c({}, typed_handler<shop::order>([&](const event<shop::order>& e, message&) {
                            seen = e.data.id;
                            return outcome::ack();
                          }));
  auto m = make_event<shop::order>("orders.created", envelope(), {3, "pen"});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(c.run(*m).state, settlement::acked);
  EXPECT_EQ(seen, 3);
}

TEST(TypedHandlerTest, PoisonPayloadsAreDroppedAsInvalid) {
  int calls = 0;
  testing::chain_runner c({}, typed_handler<shop::order>([&](const event<shop::order>&, message&) {
                            ++calls;
                            return outcome::ack();
                          }));
  auto not_an_event = c.run(message("orders.created", "hello"));
  EXPECT_EQ(not_an_event.state, settlement::terminated);
  EXPECT_EQ(not_an_event.result.why().code(), status_code::invalid_argument);
  cloudevent wrong_shape = envelope();
  wrong_shape.id = "e1";
  wrong_shape.datacontenttype = "application/json";
  wrong_shape.data = R"({"id":"not a number"})";
  auto m = cloudevents::encode(wrong_shape, "orders.created");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(c.run(*m).state, settlement::terminated);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace ferry
