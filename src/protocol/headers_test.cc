#include "protocol/headers.h"

#include <gtest/gtest.h>

namespace ferry::protocol {
namespace {

TEST(Headers, FindIsCaseSensitiveFirstMatch) {
  std::string_view b = "NATS/1.0\r\nNats-Msg-Id: 1\r\nnats-msg-id: 2\r\nX: a\r\nX: b\r\n\r\n";
  EXPECT_EQ(find_header(b, "Nats-Msg-Id"), "1");
  EXPECT_EQ(find_header(b, "nats-msg-id"), "2");
  EXPECT_EQ(find_header(b, "X"), "a");
  EXPECT_FALSE(find_header(b, "Y").has_value());
  EXPECT_FALSE(find_header(b, "Nats-Msg").has_value());
}

TEST(Headers, StatusLine) {
  EXPECT_EQ(header_status("NATS/1.0 503\r\n\r\n"), 503);
  EXPECT_EQ(header_status("NATS/1.0 404 No Messages\r\n\r\n"), 404);
  EXPECT_EQ(header_description("NATS/1.0 404 No Messages\r\n\r\n"), "No Messages");
  EXPECT_EQ(header_status("NATS/1.0\r\n\r\n"), 0);
  EXPECT_EQ(header_status("HTTP/1.0 200\r\n\r\n"), 0);
}

TEST(Headers, ParseAndBuild) {
  std::string b = header_builder(408, "Request Timeout").add("Nats-Pending-Messages", "1").finish();
  EXPECT_EQ(b, "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n");
  auto kv = parse_headers("NATS/1.0\r\nA: 1\r\nB:2\r\nA: 3\r\n\r\n");
  ASSERT_EQ(kv.size(), 3u);
  EXPECT_EQ(kv[1].first, "B");
  EXPECT_EQ(kv[1].second, "2");
  EXPECT_TRUE(is_header_block(b));
  EXPECT_FALSE(is_header_block("NATS/1.0\r\n"));
  std::string merged = header_builder().add_block("NATS/1.0\r\nA: 1\r\n\r\n").add("B", "2").finish();
  EXPECT_EQ(merged, "NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n");
}

}  // namespace
}  // namespace ferry::protocol
