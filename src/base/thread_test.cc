#include "base/thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <vector>

namespace ferry {
namespace {

using namespace std::chrono_literals;

// What a subscription is to its thread: run() delivers until stopped.
struct worker : std::enable_shared_from_this<worker> {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> ended{false};
  std::atomic<bool> self_join_returned{false};
  bool join_itself = false;
  subscription_thread thread;

  void run() {
    if (join_itself) {
      thread.join();  // a callback stopping its own subscription
      self_join_returned = true;
    }
    released.wait();
    std::this_thread::sleep_for(50ms);  // still running when the other stops arrive
    ended = true;
  }
};

TEST(SubscriptionThread, EveryConcurrentJoinWaitsForTheEnd) {
  auto w = std::make_shared<worker>();
  w->thread.start(w, &worker::run);
  std::vector<std::future<bool>> joins;
  for (int i = 0; i < 3; ++i) {
    joins.push_back(std::async(std::launch::async, [w] {
      w->thread.join();
      return w->ended.load();
    }));
  }
  std::this_thread::sleep_for(20ms);  // all three are waiting
  w->release.set_value();
  for (auto& j : joins) EXPECT_TRUE(j.get()) << "a join returned while the thread still ran";
}

TEST(SubscriptionThread, AJoinOnTheThreadItselfReturnsAtOnceAndOthersStillWait) {
  auto w = std::make_shared<worker>();
  w->join_itself = true;
  w->thread.start(w, &worker::run);
  for (int i = 0; i < 100 && !w->self_join_returned; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(w->self_join_returned.load());
  auto other = std::async(std::launch::async, [w] {
    w->thread.join();
    return w->ended.load();
  });
  std::this_thread::sleep_for(20ms);
  w->release.set_value();
  EXPECT_TRUE(other.get()) << "a join after the thread detached itself returned before its end";
}

TEST(SubscriptionThread, TheLastReferenceMayGoOnTheThreadItself) {
  std::weak_ptr<worker> gone;
  {
    auto w = std::make_shared<worker>();
    gone = w;
    w->thread.start(w, &worker::run);
    w->release.set_value();
  }  // the thread holds the last reference: the worker is destroyed there, joining itself
  for (int i = 0; i < 200 && !gone.expired(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(gone.expired());
}

}  // namespace
}  // namespace ferry
