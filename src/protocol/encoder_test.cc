#include "protocol/encoder.h"

#include <gtest/gtest.h>

namespace ferry::protocol {
namespace {

// The encoder reads the CRLF after the data from memory, as the parser leaves it there.
std::string_view data_of(const std::string& with_crlf) {
  return std::string_view(with_crlf).substr(0, with_crlf.size() - 2);
}

TEST(Encoder, MsgPerSid) {
  std::string src = "hello\r\n";
  message_encoding e;
  e.reset("foo.bar", "", 0, data_of(src));
  byte_buffer out;
  e.append(out, "1");
  e.append(out, "22");
  EXPECT_EQ(out.view(), "MSG foo.bar 1 5\r\nhello\r\nMSG foo.bar 22 5\r\nhello\r\n");
  EXPECT_EQ(e.frame_size(1), std::string("MSG foo.bar 1 5\r\nhello\r\n").size());
}

TEST(Encoder, MsgWithReply) {
  std::string src = "\r\n";
  message_encoding e;
  e.reset("s", "_INBOX.x", 0, data_of(src));
  byte_buffer out;
  e.append(out, "9");
  EXPECT_EQ(out.view(), "MSG s 9 _INBOX.x 0\r\n\r\n");
}

TEST(Encoder, HmsgAndStrippedForClientsWithoutHeaders) {
  std::string src = "NATS/1.0\r\nA: b\r\n\r\nhi\r\n";
  message_encoding e;
  e.reset("s", "r", 18, data_of(src));
  byte_buffer out;
  e.append(out, "1");
  EXPECT_EQ(out.view(), "HMSG s 1 r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n");
  out.clear();
  e.append(out, "2", false);
  EXPECT_EQ(out.view(), "MSG s 2 r 2\r\nhi\r\n");
}

TEST(Encoder, SizeTokensAreCopiedVerbatim) {
  std::string src = "x\r\n";
  message_encoding e;
  e.reset("s", "", 0, data_of(src), "", "01");
  byte_buffer out;
  e.append(out, "1");
  EXPECT_EQ(out.view(), "MSG s 1 01\r\nx\r\n");
  std::string h = "NATS/1.0\r\n\r\nx\r\n";
  e.reset("s", "", 12, data_of(h), "012", "013");
  out.clear();
  e.append(out, "1");
  e.append(out, "2", false);
  EXPECT_EQ(out.view(), "HMSG s 1 012 013\r\nNATS/1.0\r\n\r\nx\r\nMSG s 2 1\r\nx\r\n");
}

TEST(Encoder, AppendMsg) {
  byte_buffer out;
  append_msg(out, "_INBOX.a.1", "7", "", "NATS/1.0 503\r\n\r\n", "");
  EXPECT_EQ(out.view(), "HMSG _INBOX.a.1 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  out.clear();
  append_msg(out, "x", "1", "r", "", "data");
  EXPECT_EQ(out.view(), "MSG x 1 r 4\r\ndata\r\n");
}

}  // namespace
}  // namespace ferry::protocol
