#include "store/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::store {
namespace {

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);  // RFC 3720 B.4
  std::string inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(inc), 0x46DD794Eu);  // RFC 3720 B.4
}

TEST(Crc32c, ExtendEqualsWholeAtEverySplit) {
  std::string s;
  for (int i = 0; i < 100; ++i) s.push_back(static_cast<char>(i * 7 + 3));
  const std::uint32_t whole = crc32c(s);
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c_extend(crc32c_extend(0, s.data(), cut), s.data() + cut, s.size() - cut), whole) << cut;
  }
}

// The CPU's instruction (where it is used) and the tables agree on every length and split.
TEST(Crc32c, HardwareAndTablesAgree) {
  std::string s;
  std::uint32_t x = 12345;
  for (int i = 0; i < 1000; ++i) {
    x = x * 1103515245u + 12345u;
    s.push_back(static_cast<char>(x >> 16));
  }
  for (std::size_t n = 0; n <= s.size(); n += (n < 64 ? 1 : 37)) {
    EXPECT_EQ(crc32c_extend(0, s.data(), n), crc32c_extend_portable(0, s.data(), n)) << n;
    EXPECT_EQ(crc32c_extend(0xDEADBEEF, s.data() + 3, n / 2), crc32c_extend_portable(0xDEADBEEF, s.data() + 3, n / 2))
        << n;
  }
}

TEST(Crc32c, DetectsEveryFlippedBit) {
  const std::string s = "the quick brown fox jumps over the lazy dog";
  const std::uint32_t good = crc32c(s);
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (int b = 0; b < 8; ++b) {
      std::string t = s;
      t[i] = static_cast<char>(t[i] ^ (1 << b));
      EXPECT_NE(crc32c(t), good);
    }
  }
}

}  // namespace
}  // namespace ferry::store
