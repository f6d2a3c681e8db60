#include "count_skipped.h"

#include <gtest/gtest.h>

#include "ferry/dedup.h"
#include "ferry/middleware.h"

namespace shop {
namespace {

TEST(CountSkippedTest, CountsTheDuplicatesDedupAcks) {
  ferry::memory_dedup_store store;
  int skipped = 0, handled = 0;
  ferry::handler_info info{.name = "h", .subject = "in"};
  ferry::handler h = ferry::compose(
      [&](ferry::message&) {
        ++handled;
        return ferry::outcome::ack();
      },
      {count_skipped(ferry::middleware::dedup(store), [&](const ferry::message&) { ++skipped; })}, info);
  ferry::message m("in", "");
  m.id = "k1";
  EXPECT_TRUE(h(m).is_ack());
  EXPECT_TRUE(h(m).is_ack());
  EXPECT_TRUE(h(m).is_ack());
  m.id = "k2";
  EXPECT_TRUE(h(m).is_ack());
  EXPECT_EQ(handled, 2);
  EXPECT_EQ(skipped, 2);
}

}  // namespace
}  // namespace shop
