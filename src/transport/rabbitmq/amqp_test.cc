// The AMQP mapping without a broker: subjects and patterns, what is refused before sending, and a
// message as AMQP properties and headers and back (the table the publisher sends is the one the
// consumer reads), including headers of other clients' types and the quorum queue's count.
#include "transport/rabbitmq/amqp.h"

#include <gtest/gtest.h>

namespace ferry::rabbitmq::detail {
namespace {

TEST(Amqp, NatsWildcardsBecomeTopicPatterns) {
  EXPECT_EQ(binding_pattern("order.*"), "order.*");
  EXPECT_EQ(binding_pattern("order.>"), "order.#");
  EXPECT_EQ(binding_pattern(">"), "#");
  EXPECT_EQ(binding_pattern("a.*.>"), "a.*.#");
  EXPECT_EQ(binding_pattern("order.created"), "order.created");
}

TEST(Amqp, SubjectsAreCheckedForPublishingAndForSubscribing) {
  for (const char* ok : {"a", "order.created", "a-b_c.D9"}) {
    EXPECT_TRUE(check_subject(ok, false).is_ok()) << ok;
    EXPECT_TRUE(check_subject(ok, true).is_ok()) << ok;
  }
  for (const char* pattern : {"a.*", "*", ">", "a.>", "*.b.>"}) {
    EXPECT_TRUE(check_subject(pattern, true).is_ok()) << pattern;
    EXPECT_EQ(check_subject(pattern, false).code(), status_code::invalid_argument) << pattern;
  }
  for (const std::string& bad : {std::string(""), std::string("a..b"), std::string(".a"), std::string("a."),
                                 std::string("a.#"), std::string("a#b"), std::string("a.>.b"), std::string("a.b*"),
                                 std::string(256, 'x')}) {
    EXPECT_EQ(check_subject(bad, true).code(), status_code::invalid_argument) << bad;
  }
  EXPECT_TRUE(check_subject(std::string(255, 'x'), false).is_ok());
}

TEST(Amqp, MessagesTheTransportCannotCarryAreRefused) {
  message ok("s", "x");
  ok.id = std::string(255, 'i');
  ok.headers.set("x-custom", "fine");
  EXPECT_TRUE(check_message(ok).is_ok());
  message long_id("s", "x");
  long_id.id = std::string(256, 'i');
  EXPECT_EQ(check_message(long_id).code(), status_code::invalid_argument);
  for (const std::string& name : {std::string(""), std::string(129, 'h'), std::string("x-delivery-count"),
                                  std::string("Ferry-Key")}) {
    message m("s", "x");
    m.headers.set(name, "v");
    EXPECT_EQ(check_message(m).code(), status_code::invalid_argument) << name;
  }
}

TEST(Amqp, AMessageRoundTripsThroughPropertiesAndHeaders) {
  message m("order.created", std::string("pay\0load", 8));
  m.id = "id-1";
  m.key = "customer-7";
  m.headers.set("Content-Type", "application/json")
      .add("Multi", "1")
      .set("Binary", std::string("a\r\n\0b", 5))
      .add("Multi", "2");
  const outgoing out(m, "", "");
  const amqp_basic_properties_t& p = *out.properties();
  EXPECT_EQ(p.delivery_mode, AMQP_DELIVERY_PERSISTENT);
  EXPECT_EQ(view(p.message_id), "id-1");
  EXPECT_EQ(p.headers.num_entries, 4);  // Ferry-Key, Content-Type, Multi (an array), Binary
  const message back = incoming(m.subject, p, bytes(m.payload), false);
  EXPECT_EQ(back.subject, m.subject);
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_EQ(back.id, m.id);
  EXPECT_EQ(back.key, m.key);
  EXPECT_EQ(back.headers.all("Multi"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_EQ(back.headers.value_or("Binary", ""), std::string("a\r\n\0b", 5));
  EXPECT_EQ(back.headers.value_or("Content-Type", ""), "application/json");
  EXPECT_EQ(back.headers.size(), 4u);
  EXPECT_EQ(back.delivery.delivery_count, 1u);
  EXPECT_FALSE(back.delivery.redelivered);
  EXPECT_EQ(back.delivery.transport, "rabbitmq");
}

TEST(Amqp, ARequestCarriesItsReplyAddressAndAReplyItsCorrelationId) {
  message q("rpc.echo", "ping");
  q.id = "q-1";
  const outgoing request(q, "token-9", direct_reply_to);
  const message at_responder =
      incoming("rpc.echo", *request.properties(), bytes(q.payload), false);
  EXPECT_EQ(at_responder.reply, "amq.rabbitmq.reply-to#token-9");
  const outgoing reply(message("x", "pong"), "token-9", "");
  EXPECT_EQ(view(reply.properties()->correlation_id), "token-9");
  EXPECT_EQ(reply.properties()->_flags & AMQP_BASIC_REPLY_TO_FLAG, 0);
}

TEST(Amqp, OtherClientsHeadersAreReadAsTextAndTheQueueCountsDeliveries) {
  amqp_field_value_t seq{}, flag{}, tag_a{}, tag_b{}, tags{}, count{};
  seq.kind = AMQP_FIELD_KIND_I64;
  seq.value.i64 = -42;
  flag.kind = AMQP_FIELD_KIND_BOOLEAN;
  flag.value.boolean = 1;
  tag_a.kind = tag_b.kind = AMQP_FIELD_KIND_BYTES;
  tag_a.value.bytes = amqp_cstring_bytes("a");
  tag_b.value.bytes = amqp_cstring_bytes("b");
  amqp_field_value_t tag_list[] = {tag_a, tag_b};
  tags.kind = AMQP_FIELD_KIND_ARRAY;
  tags.value.array = {2, tag_list};
  count.kind = AMQP_FIELD_KIND_I32;  // what a quorum queue sets after two returns
  count.value.i32 = 2;
  amqp_table_entry_t entries[] = {{amqp_cstring_bytes("Seq"), seq},
                                  {amqp_cstring_bytes("Flag"), flag},
                                  {amqp_cstring_bytes("Tags"), tags},
                                  {amqp_cstring_bytes("x-delivery-count"), count}};
  amqp_basic_properties_t p{};
  p._flags = AMQP_BASIC_HEADERS_FLAG;
  p.headers = {4, entries};
  const message m = incoming("s", p, amqp_cstring_bytes("body"), true);
  EXPECT_EQ(m.headers.value_or("Seq", ""), "-42");
  EXPECT_EQ(m.headers.value_or("Flag", ""), "true");
  EXPECT_EQ(m.headers.all("Tags"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_FALSE(m.headers.contains("x-delivery-count"));
  EXPECT_EQ(m.delivery.delivery_count, 3u);
  EXPECT_TRUE(m.delivery.redelivered);
  EXPECT_TRUE(m.id.empty());  // no message-id: the transport does not make one up
}

}  // namespace
}  // namespace ferry::rabbitmq::detail
