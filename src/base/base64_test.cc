#include "base/base64.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Base64Test, RoundTripsAndMatchesKnownValues) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
  EXPECT_EQ(base64_decode("Zm8="), "fo");
}

TEST(Base64Test, RejectsMalformed) {
  for (const char* bad : {"Zm8", "Zm=8", "Z===", "Zm9v!A==", "Zg==Zg=="}) EXPECT_FALSE(base64_decode(bad)) << bad;
}

}  // namespace
}  // namespace ferry
