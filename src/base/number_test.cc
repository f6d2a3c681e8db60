#include "base/number.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ParseUint, DigitsOnly) {
  EXPECT_EQ(*parse_uint("0", "count"), 0u);
  EXPECT_EQ(*parse_uint("18446744073709551615", "sequence"), UINT64_MAX);
  for (const char* s : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.5", "abc"}) {
    auto r = parse_uint(s, "sequence");
    ASSERT_FALSE(r.is_ok()) << s;
    EXPECT_EQ(r.status().code(), status_code::invalid_argument);
    EXPECT_NE(r.status().message().find("invalid sequence \"" + std::string(s) + "\""), std::string::npos)
        << r.status().message();
  }
  EXPECT_NE(parse_uint("-1", "sequence").status().message().find("negative"), std::string::npos);
}

TEST(ParseUint, OverflowIsAnError) {
  EXPECT_FALSE(parse_uint("18446744073709551616", "n").is_ok());
  EXPECT_FALSE(parse_uint("99999999999999999999999", "n").is_ok());
  EXPECT_EQ(*parse_uint("100", "n", 100), 100u);
  auto r = parse_uint("101", "n", 100);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("larger than 100"), std::string::npos);
}

TEST(ParseSize, Units) {
  EXPECT_EQ(*parse_size("0"), 0);
  EXPECT_EQ(*parse_size("512"), 512);
  EXPECT_EQ(*parse_size("512B"), 512);
  EXPECT_EQ(*parse_size("1K"), 1024);
  EXPECT_EQ(*parse_size("1KB"), 1024);
  EXPECT_EQ(*parse_size("1kib"), 1024);
  EXPECT_EQ(*parse_size("10MB"), 10LL << 20);
  EXPECT_EQ(*parse_size("2G"), 2LL << 30);
  EXPECT_EQ(*parse_size("3TiB"), 3LL << 40);
  EXPECT_EQ(*parse_size("-1", true), -1);
}

TEST(ParseSize, Refusals) {
  for (const char* s : {"", "-1", "-5", "K", "1X", "1.5K", "1 K", "1KK", "1BB", "9223372036854775808", "8388608T",
                        "99999999999999999999K"}) {
    auto r = parse_size(s);
    ASSERT_FALSE(r.is_ok()) << s;
    EXPECT_EQ(r.status().code(), status_code::invalid_argument);
    EXPECT_NE(r.status().message().find(std::string("\"") + s + "\""), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(parse_size("-2", true).is_ok());
  EXPECT_EQ(*parse_size("8388607T"), 8388607LL << 40);
}

}  // namespace
}  // namespace ferry
