#include "base/byte_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

TEST(ByteBuffer, AppendAndConsume) {
  byte_buffer b;
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.consume(6);
  EXPECT_EQ(b.view(), "world");
  b.consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(ByteBuffer, PrepareCommitKeepsUnreadBytesAcrossGrowth) {
  byte_buffer b(8);
  b.append("abcdefgh");
  b.consume(3);
  char* w = b.prepare(1000);
  std::memset(w, 'x', 1000);
  b.commit(1000);
  EXPECT_EQ(b.size(), 1005u);
  EXPECT_EQ(b.view().substr(0, 6), "defghx");
}

TEST(ByteBuffer, CompactsInsteadOfGrowingWhenRoomAtFront) {
  byte_buffer b(64);
  std::string s(60, 'a');
  b.append(s);
  b.consume(50);
  const std::size_t cap = b.capacity();
  b.append(std::string(40, 'b'));
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.view(), std::string(10, 'a') + std::string(40, 'b'));
}

TEST(ByteBuffer, ShrinkKeepsData) {
  byte_buffer b;
  b.append(std::string(100000, 'z'));
  b.consume(99990);
  b.shrink_to(64);
  EXPECT_EQ(b.capacity(), 64u);
  EXPECT_EQ(b.view(), std::string(10, 'z'));
}

TEST(ByteBuffer, MoveLeavesSourceEmpty) {
  byte_buffer a;
  a.append("data");
  byte_buffer b(std::move(a));
  EXPECT_EQ(b.view(), "data");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
}

TEST(ByteBufferDeathTest, CommitBeyondPreparedAborts) {
  byte_buffer b;
  b.prepare(10);
  EXPECT_DEATH(b.commit(b.writable() + 1), "FERRY_CHECK failed");
}

}  // namespace
}  // namespace ferry
