#include "base/rfc3339.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono;

TEST(Rfc3339Test, FormatsUtcWithTheFractionNeeded) {
  const sys_days day = year(2024) / May / 1;
  EXPECT_EQ(format_rfc3339(day + 12h + 3min + 4s), "2024-05-01T12:03:04Z");
  EXPECT_EQ(format_rfc3339(time_point_cast<system_clock::duration>(day + 12h + 123ms)), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(format_rfc3339(sys_days(year(1970) / 1 / 1)), "1970-01-01T00:00:00Z");
}

TEST(Rfc3339Test, ParsesOffsetsAndFractions) {
  const sys_days day = year(2024) / May / 1;
  EXPECT_EQ(parse_rfc3339("2024-05-01T12:00:00Z"), system_clock::time_point(day + 12h));
  EXPECT_EQ(parse_rfc3339("2024-05-01T14:00:00+02:00"), system_clock::time_point(day + 12h));
  EXPECT_EQ(parse_rfc3339("2024-05-01t11:30:00.5-00:30"), time_point_cast<system_clock::duration>(day + 12h + 500ms));
}

TEST(Rfc3339Test, RoundTrips) {
  const auto now = system_clock::now();
  EXPECT_EQ(parse_rfc3339(format_rfc3339(now)), now);
}

// JetStream keeps nanoseconds since the epoch; Go writes them with up to 9 digits.
TEST(Rfc3339Test, NanosecondsSinceTheEpoch) {
  const std::int64_t t = 1764763200'500000000;  // 2025-12-03T12:00:00.5Z
  EXPECT_EQ(format_rfc3339(t), "2025-12-03T12:00:00.5Z");
  EXPECT_EQ(format_rfc3339(t + 123), "2025-12-03T12:00:00.500000123Z");
  EXPECT_EQ(parse_rfc3339_ns("2025-12-03T13:00:00.5+01:00"), t);
  EXPECT_EQ(parse_rfc3339_ns(format_rfc3339(t + 123)), t + 123);
  EXPECT_EQ(format_rfc3339(std::int64_t{-1}), "1969-12-31T23:59:59.999999999Z");
  EXPECT_FALSE(parse_rfc3339_ns("2025-12-03"));
}

TEST(Rfc3339Test, RejectsMalformed) {
  for (const char* bad :
       {"", "2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00Zjunk", "2024-05-01T12:00:00+2:00"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

}  // namespace
}  // namespace ferry
