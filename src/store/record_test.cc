#include "store/record.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::store::record {
namespace {

TEST(Record, MessageRoundTrip) {
  std::string buf;
  append_message(buf, 42, -7, "orders.new", "NATS/1.0\r\nA: b\r\n\r\n", "payload");
  EXPECT_EQ(buf.size(), message_size(10, 18, 7));
  frame f;
  ASSERT_EQ(parse(buf, f), parse_status::ok);
  EXPECT_EQ(f.kind, type::message);
  EXPECT_EQ(f.size, buf.size());
  message_view m;
  ASSERT_TRUE(decode_message(f.body, m));
  EXPECT_EQ(m.seq, 42u);
  EXPECT_EQ(m.ts_ns, -7);
  EXPECT_EQ(m.subject, "orders.new");
  EXPECT_EQ(m.headers, "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(m.data, "payload");
}

TEST(Record, ByteLayout) {
  std::string buf;
  append_tombstone(buf, 0x0102030405060708ull);
  ASSERT_EQ(buf.size(), seq_record_size);
  EXPECT_EQ(buf.substr(0, 4), std::string("\xF0" "FRY", 4));
  EXPECT_EQ(buf.substr(4, 4), std::string("\x08\0\0\0", 4));  // body length
  EXPECT_EQ(buf[8], static_cast<char>(type::tombstone));
  EXPECT_EQ(buf.substr(9, 3), std::string(3, '\0'));
  EXPECT_EQ(buf.substr(12, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
}

TEST(Record, OtherTypesRoundTrip) {
  std::string buf;
  append_segment_header(buf, 77);
  append_purge_floor(buf, 9);
  EXPECT_EQ(buf.size(), segment_header_size + seq_record_size);
  frame f;
  ASSERT_EQ(parse(buf, f), parse_status::ok);
  segment_header_view h;
  ASSERT_TRUE(decode_segment_header(f.body, h));
  EXPECT_EQ(h.version, format_version);
  EXPECT_EQ(h.base_seq, 77u);
  ASSERT_EQ(parse(std::string_view(buf).substr(f.size), f), parse_status::ok);
  EXPECT_EQ(f.kind, type::purge_floor);
  std::uint64_t v = 0;
  ASSERT_TRUE(decode_seq(f.body, v));
  EXPECT_EQ(v, 9u);
}

TEST(Record, ConsumerRecordsRoundTrip) {
  std::string buf;
  append_blob(buf, type::consumer_state, R"({"dseq":5})");
  append_ack(buf, 0x0102030405060708ull, 42);
  EXPECT_EQ(buf.size(), frame_overhead + 10 + ack_record_size);
  frame f;
  ASSERT_EQ(parse(buf, f), parse_status::ok);
  EXPECT_EQ(f.kind, type::consumer_state);
  EXPECT_EQ(f.body, R"({"dseq":5})");
  ASSERT_EQ(parse(std::string_view(buf).substr(f.size), f), parse_status::ok);
  EXPECT_EQ(f.kind, type::ack);
  std::uint64_t sseq = 0, dseq = 0;
  ASSERT_TRUE(decode_ack(f.body, sseq, dseq));
  EXPECT_EQ(sseq, 0x0102030405060708ull);
  EXPECT_EQ(dseq, 42u);
  EXPECT_FALSE(decode_ack("short", sseq, dseq));
  // Every flipped byte of an ack record is caught.
  for (std::size_t i = frame_overhead + 10; i < buf.size(); ++i) {
    std::string bad = buf.substr(frame_overhead + 10);
    bad[i - (frame_overhead + 10)] ^= 0x20;
    EXPECT_EQ(parse(bad, f), parse_status::bad) << "flipped byte " << i;
  }
}

TEST(Record, ErasedKeepsLengthAndSequence) {
  std::string buf;
  append_message(buf, 5, 1, "a", "", "secret data");
  write_erased(buf.data(), buf.size(), 5);
  EXPECT_EQ(buf.find("secret"), std::string::npos);
  frame f;
  ASSERT_EQ(parse(buf, f), parse_status::ok);
  EXPECT_EQ(f.kind, type::erased);
  EXPECT_EQ(f.size, buf.size());
  std::uint64_t v = 0;
  ASSERT_TRUE(decode_seq(f.body, v));
  EXPECT_EQ(v, 5u);
}

TEST(Record, EveryTruncationAndEveryFlippedByteIsBad) {
  std::string buf;
  append_message(buf, 1, 2, "s", "h", "d");
  frame f;
  for (std::size_t n = 0; n < buf.size(); ++n) EXPECT_EQ(parse(buf.substr(0, n), f), parse_status::bad) << n;
  for (std::size_t i = 0; i < buf.size(); ++i) {
    std::string t = buf;
    t[i] = static_cast<char>(t[i] ^ 0x40);
    EXPECT_EQ(parse(t, f), parse_status::bad) << i;
  }
}

TEST(Record, FindNextSkipsGarbageAndLookalikes) {
  std::string buf = "garbage\xF0" "FRYmore";  // a magic with no valid record behind it
  const std::size_t at = buf.size();
  append_tombstone(buf, 3);
  EXPECT_EQ(find_next(buf, 0), at);
  EXPECT_EQ(find_next(buf, at + 1), std::string_view::npos);
}

TEST(Record, RejectsAbsurdLengths) {
  std::string buf;
  append_tombstone(buf, 3);
  buf[7] = '\x7F';  // body length far beyond max_body
  frame f;
  EXPECT_EQ(parse(buf, f), parse_status::bad);
}

}  // namespace
}  // namespace ferry::store::record
