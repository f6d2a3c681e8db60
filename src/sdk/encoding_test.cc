#include "sdk/encoding.h"

#include <gtest/gtest.h>

namespace ferry::detail {
namespace {

TEST(PercentEncodingTest, EncodesWhatTheBindingRequires) {
  EXPECT_EQ(percent_encode("plain/text-1.0"), "plain/text-1.0");
  EXPECT_EQ(percent_encode("a b\"c%d"), "a%20b%22c%25d");
  EXPECT_EQ(percent_encode("\x7f\n"), "%7F%0A");
  EXPECT_EQ(percent_encode("caf\xc3\xa9"), "caf%C3%A9");  // UTF-8 bytes
}

TEST(PercentEncodingTest, DecodesAndRejectsMalformed) {
  EXPECT_EQ(percent_decode("caf%C3%a9%20x"), "caf\xc3\xa9 x");
  EXPECT_EQ(percent_decode("no-escapes"), "no-escapes");
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%2"));
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_FALSE(percent_decode("%C3"));  // not UTF-8 once decoded
}

TEST(PercentEncodingTest, RoundTripsEveryByteOfValidUtf8) {
  std::string s;
  for (int c = 1; c < 0x80; ++c) s += static_cast<char>(c);
  s += "\xe2\x82\xac\xf0\x9f\x98\x80";
  EXPECT_EQ(percent_decode(percent_encode(s)), s);
}

TEST(Utf8Test, AcceptsValidAndRejectsInvalid) {
  EXPECT_TRUE(valid_utf8("ascii"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xff"));
}

}  // namespace
}  // namespace ferry::detail
