// Unit tests of what the NATS transports share, without a server: message and status conversion
// to and from nats.c.
#include "transport/nats/client.h"

#include <gtest/gtest.h>

namespace ferry::nats::detail {
namespace {

TEST(NatsCodec, RoundTripTakesIdAndKeyOutOfTheHeaders) {
  message m("orders.created", std::string("a\0b", 3));
  m.id = "ID1";
  m.key = "customer-7";
  m.reply = "_INBOX.x";
  std::string binary;
  for (int c = 1; c < 256; ++c) {
    if (c != '\r' && c != '\n') binary.push_back(static_cast<char>(c));
  }
  m.headers.add("Multi", "1").add("Multi", "2").set("Bin", binary).set("case", "lower");
  auto msg = to_nats(m);
  ASSERT_TRUE(msg.is_ok()) << msg.status().to_string();
  message back = from_nats(msg->get());
  EXPECT_EQ(back.subject, m.subject);
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_EQ(back.reply, m.reply);
  EXPECT_EQ(back.id, "ID1");
  EXPECT_EQ(back.key, "customer-7");
  EXPECT_EQ(back.headers.all("Multi"), (std::vector<std::string_view>{"1", "2"}));
  EXPECT_EQ(back.headers.value_or("Bin", ""), binary);
  EXPECT_EQ(back.headers.value_or("case", ""), "lower");
  EXPECT_FALSE(back.headers.contains(std::string(header::message_id)));
  EXPECT_EQ(back.headers.size(), 4u);
}

TEST(NatsCodec, RefusesWhatNatsCannotCarry) {
  message m("s", "");
  m.headers.set("Bad", "a\r\nb");
  EXPECT_EQ(to_nats(m).status().code(), status_code::invalid_argument);
  m.headers.clear();
  m.headers.set("Has space", "v");
  EXPECT_EQ(to_nats(m).status().code(), status_code::invalid_argument);
  m.headers.clear();
  m.headers.set("Colon:", "v");
  EXPECT_EQ(to_nats(m).status().code(), status_code::invalid_argument);
}

TEST(NatsCodec, StatusMapping) {
  EXPECT_EQ(from_nats(NATS_TIMEOUT, "x").code(), status_code::deadline_exceeded);
  EXPECT_EQ(from_nats(NATS_NO_RESPONDERS, "x").code(), status_code::unavailable);
  EXPECT_EQ(from_nats(NATS_CONNECTION_CLOSED, "x").code(), status_code::unavailable);
  EXPECT_EQ(from_nats(NATS_INVALID_SUBJECT, "x").code(), status_code::invalid_argument);
  EXPECT_TRUE(from_nats(NATS_OK, "x").is_ok());
}

}  // namespace
}  // namespace ferry::nats::detail
