#include "base/close_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace ferry::detail {
namespace {

using namespace std::chrono_literals;

TEST(CloseGate, ASecondCallerWaitsUntilTheFirstHasFinished) {
  close_gate gate;
  ASSERT_TRUE(gate.begin(false));
  EXPECT_TRUE(gate.begun());
  std::atomic<bool> finished{false}, second_returned{false}, second_saw_finished{false};
  std::thread second([&] {
    EXPECT_FALSE(gate.begin(false));
    second_saw_finished.store(finished.load());
    second_returned.store(true);
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(second_returned.load()) << "returned while the first caller was still closing";
  finished.store(true);
  gate.finished();
  second.join();
  EXPECT_TRUE(second_saw_finished.load());
  EXPECT_FALSE(gate.begin(false));  // after the close: at once
}

TEST(CloseGate, ACallerThatMustNotWaitReturnsAtOnce) {
  close_gate gate;
  ASSERT_TRUE(gate.begin(true));   // the first closes, whoever it is
  EXPECT_FALSE(gate.begin(true));  // does not wait for finished()
  gate.finished();
}

TEST(CloseGate, ACloseInsideACallbackFinishesWhenTheCallbackReturns) {
  auto gate = std::make_shared<close_gate>();
  int owner = 0;
  std::atomic<bool> other_returned{false};
  std::thread other;
  std::function<void()> callback = scoped_callback(&owner, [&] {
    ASSERT_TRUE(gate->begin(callback_scope::inside(&owner)));
    close_gate::finish(gate, &owner);  // deferred: this callback still runs
    other = std::thread([&] {
      EXPECT_FALSE(gate->begin(false));
      other_returned.store(true);
    });
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(other_returned.load()) << "a close() returned while the callback that closed still ran";
  });
  callback();
  other.join();  // finished when the callback returned
  EXPECT_TRUE(other_returned.load());
  close_gate outside;  // no callback: finish() at once
  ASSERT_TRUE(outside.begin(false));
}

TEST(CallbackScope, MarksTheThreadWhileTheCallbackRunsAndNests) {
  int a = 0, b = 0;
  EXPECT_FALSE(callback_scope::inside(&a));
  std::function<void(int)> inner = scoped_callback(&b, [&](int n) {
    EXPECT_EQ(n, 2);
    EXPECT_TRUE(callback_scope::inside(&a));  // b's callback runs inside a's
    EXPECT_TRUE(callback_scope::inside(&b));
  });
  std::function<void(int)> outer = scoped_callback(&a, [&](int n) {
    EXPECT_EQ(n, 1);
    EXPECT_TRUE(callback_scope::inside(&a));
    EXPECT_FALSE(callback_scope::inside(&b));
    inner(2);
    EXPECT_FALSE(callback_scope::inside(&b));
    std::thread([&] { EXPECT_FALSE(callback_scope::inside(&a)); }).join();  // per thread
  });
  outer(1);
  EXPECT_FALSE(callback_scope::inside(&a));
}

}  // namespace
}  // namespace ferry::detail
