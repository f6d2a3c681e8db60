#include "sdk/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ferry::detail {
namespace {

message keyed(std::string key, std::string payload) {
  message m("s", std::move(payload));
  m.key = std::move(key);
  return m;
}

TEST(WorkQueueTest, NoneIsFifo) {
  work_queue q(10, false);
  for (int i = 0; i < 3; ++i) {
    message m("s", std::to_string(i));
    ASSERT_TRUE(q.push(m));
  }
  for (int i = 0; i < 3; ++i) {
    auto it = q.pop();
    ASSERT_TRUE(it);
    EXPECT_EQ(it->msg.payload, std::to_string(i));
  }
}

TEST(WorkQueueTest, PerKeyHoldsAKeyUntilDone) {
  work_queue q(10, true);
  for (auto m : {keyed("a", "a1"), keyed("a", "a2"), keyed("b", "b1")}) ASSERT_TRUE(q.push(m));
  auto first = q.pop();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->msg.payload, "a1");
  auto second = q.pop();  // a2 must wait for a1: b1 comes next
  ASSERT_TRUE(second);
  EXPECT_EQ(second->msg.payload, "b1");
  EXPECT_EQ(q.queued(), 1u);
  q.done(*first);
  auto third = q.pop();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->msg.payload, "a2");
}

TEST(WorkQueueTest, FerryKeyHeaderIsTheKeyWhenKeyIsEmpty) {
  message m("s", "x");
  m.headers.set(std::string(header::key), "k");
  EXPECT_EQ(work_queue::key_of(m), "k");
  m.key = "direct";
  EXPECT_EQ(work_queue::key_of(m), "direct");
}

TEST(WorkQueueTest, UnkeyedMessagesAreNotOrderedBehindKeys) {
  work_queue q(10, true);
  for (auto m : {keyed("a", "a1"), keyed("a", "a2"), keyed("", "free")}) ASSERT_TRUE(q.push(m));
  auto a1 = q.pop();
  auto next = q.pop();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->msg.payload, "free");
}

TEST(WorkQueueTest, PushBlocksWhileFullAndFailsOnClose) {
  work_queue q(1, false);
  message m("s", "1");
  ASSERT_TRUE(q.push(m));
  std::atomic<int> result{-1};
  std::thread t([&] {
    message m2("s", "2");
    result = q.push(m2) ? 1 : 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(result.load(), -1);  // still blocked
  q.close();
  t.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_FALSE(q.pop());
  EXPECT_EQ(q.drain().size(), 1u);
}

TEST(WorkQueueTest, PopMakesRoom) {
  work_queue q(1, false);
  message m("s", "1");
  ASSERT_TRUE(q.push(m));
  std::thread t([&] {
    message m2("s", "2");
    EXPECT_TRUE(q.push(m2));
  });
  auto it = q.pop();
  t.join();
  EXPECT_EQ(q.queued(), 1u);
  EXPECT_EQ(q.running(), 1u);
  q.done(*it);
  EXPECT_TRUE(q.wait_idle(std::chrono::steady_clock::now()));
}

TEST(WorkQueueTest, DrainKeepsBusyLanesUntilDone) {
  work_queue q(10, true);
  for (auto m : {keyed("a", "a1"), keyed("a", "a2")}) ASSERT_TRUE(q.push(m));
  auto a1 = q.pop();
  q.close();
  auto rest = q.drain();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].payload, "a2");
  EXPECT_FALSE(q.wait_idle(std::chrono::steady_clock::now()));
  q.done(*a1);
  EXPECT_TRUE(q.wait_idle(std::chrono::steady_clock::now()));
}

}  // namespace
}  // namespace ferry::detail
