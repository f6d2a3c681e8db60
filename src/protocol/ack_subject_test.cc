#include "protocol/ack_subject.h"

#include <gtest/gtest.h>

namespace ferry::protocol {
namespace {

TEST(AckSubject, BothShapes) {
  auto a = parse_ack_subject("$JS.ACK.ORDERS.C1.2.15.9.1764763200500000000.4");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->stream, "ORDERS");
  EXPECT_EQ(a->consumer, "C1");
  EXPECT_EQ(a->deliveries, 2u);
  EXPECT_EQ(a->stream_seq, 15u);
  EXPECT_EQ(a->consumer_seq, 9u);
  EXPECT_EQ(a->timestamp_ns, 1764763200500000000);
  EXPECT_EQ(a->pending, 4u);
  // With a domain and an account hash, and the random token nats-server 2.10 appends.
  auto b = parse_ack_subject("$JS.ACK.hub.ACCHASH.ORDERS.C1.1.7.3.100.0.rnd");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->stream, "ORDERS");
  EXPECT_EQ(b->consumer, "C1");
  EXPECT_EQ(b->stream_seq, 7u);
  EXPECT_EQ(b->consumer_seq, 3u);
}

TEST(AckSubject, RefusesWhatIsNotOne) {
  for (const char* bad :
       {"", "$JS.ACK", "$JS.ACK.S.C.1.2.3.4", "$JS.NAK.S.C.1.2.3.4.5", "$JS.ACK.S.C.1.x.3.4.5", "$JS.ACK.S.C.1.-2.3.4.5",
        "$JS.ACK.S.C.1.99999999999999999999.3.4.5", "$JS.ACK..C.1.2.3.4.5", "$JS.ACK.a.b.S.C.1.2.3.4",
        "$JS.ACK.a.b.S.C.1.2.3.4.5.6.7"})
    EXPECT_FALSE(parse_ack_subject(bad)) << bad;
}

}  // namespace
}  // namespace ferry::protocol
