#include "base/duration.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds ok(std::string_view s, duration_syntax syntax = {}) {
  auto r = parse_duration(s, syntax);
  EXPECT_TRUE(r.is_ok()) << s << ": " << r.status().to_string();
  return r.is_ok() ? *r : std::chrono::nanoseconds(-12345);
}

bool fails(std::string_view s, duration_syntax syntax = {}) {
  auto r = parse_duration(s, syntax);
  if (r.is_ok()) return false;
  EXPECT_EQ(r.status().code(), status_code::invalid_argument);
  EXPECT_NE(r.status().message().find(std::string(s)), std::string::npos) << "the error names the input";
  return true;
}

TEST(Duration, GoSyntax) {
  EXPECT_EQ(ok("0"), 0ns);
  EXPECT_EQ(ok("500ns"), 500ns);
  EXPECT_EQ(ok("1us"), 1us);
  EXPECT_EQ(ok("1\xC2\xB5s"), 1us);
  EXPECT_EQ(ok("1\xCE\xBCs"), 1us);
  EXPECT_EQ(ok("250ms"), 250ms);
  EXPECT_EQ(ok("2s"), 2s);
  EXPECT_EQ(ok("1m30s"), 90s);
  EXPECT_EQ(ok("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
  EXPECT_EQ(ok("1.5s"), 1500ms);
  EXPECT_EQ(ok(".5s"), 500ms);
  EXPECT_EQ(ok("1.s"), 1s);
  EXPECT_EQ(ok("0.000000001s"), 1ns);
  EXPECT_EQ(ok("1.0000000001s"), 1s);  // below a nanosecond is dropped
  EXPECT_EQ(ok("+3m"), 3min);
  EXPECT_EQ(ok("1d"), 24h);
}

TEST(Duration, Negative) {
  EXPECT_TRUE(fails("-1s"));
  EXPECT_EQ(ok("-1.5h", {.allow_negative = true}), -90min);
  auto go = parse_go_duration("-2s");
  ASSERT_TRUE(go.is_ok());
  EXPECT_EQ(*go, -2s);
  EXPECT_FALSE(parse_go_duration("1d").is_ok()) << "Go has no days";
}

TEST(Duration, BareNumbers) {
  EXPECT_TRUE(fails("30"));
  EXPECT_EQ(ok("30", {.bare_number_unit = 1s}), 30s);
  EXPECT_EQ(ok("1.5", {.bare_number_unit = 1s}), 1500ms);
  EXPECT_TRUE(fails("1s30", {.bare_number_unit = 1s})) << "only a number on its own is bare";
}

TEST(Duration, Garbage) {
  for (std::string_view s : {"", ".", "s", "ms", "1.2.3s", "1x", "1 s", " 1s", "1s ", "--1s", "1sm", "abc", "1e3s"}) {
    EXPECT_TRUE(fails(s)) << "accepted \"" << s << "\"";
  }
}

TEST(Duration, OverflowIsAnErrorNotAWrap) {
  EXPECT_EQ(ok("2562047h"), std::chrono::hours(2562047));
  EXPECT_TRUE(fails("2562048h"));
  EXPECT_TRUE(fails("99999999999999999999s"));
  EXPECT_TRUE(fails("9223372036854775808ns"));
  EXPECT_EQ(ok("9223372036854775807ns"), std::chrono::nanoseconds(9223372036854775807LL));
  EXPECT_TRUE(fails("200000d"));
  EXPECT_TRUE(fails("2562047h2562047h"));
}

TEST(Duration, CeilMilliseconds) {
  EXPECT_EQ(ceil_ms(1ns), 1ms);
  EXPECT_EQ(ceil_ms(2ms), 2ms);
  EXPECT_EQ(ceil_ms(0ns), 0ms);
}

}  // namespace
}  // namespace ferry
