// thread: a delivery thread that any thread may stop and wait for, its own included.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace ferry {

// The thread of one subscription, which several threads may stop at once (its own stop(), the
// transport's close(), a router's stop): every join() returns once the thread has ended, not only
// the first. On the thread itself (a callback that stops its own subscription) join() returns at
// once, and the thread ends after the callback.
class subscription_thread {
 public:
  subscription_thread() = default;
  subscription_thread(const subscription_thread&) = delete;
  subscription_thread& operator=(const subscription_thread&) = delete;
  ~subscription_thread() { join(); }

  // Runs `(keep.get()->*run)()` on a new thread; `keep` (the object that owns this) lives until
  // the thread has ended. Once.
  template <class T>
  void start(std::shared_ptr<T> keep, void (T::*run)()) {
    std::lock_guard lock(mu_);
    t_ = std::thread([this, keep = std::move(keep), run] {
      (keep.get()->*run)();
      {
        std::lock_guard l(mu_);
        ended_ = true;
      }
      ended_cv_.notify_all();  // `keep` goes after this: whoever waits still finds *this
    });
    id_ = t_.get_id();
  }

  void join() {
    std::unique_lock lock(mu_);
    if (id_ == std::thread::id()) return;  // never started
    if (id_ == std::this_thread::get_id()) {
      if (t_.joinable()) t_.detach();
      return;
    }
    if (t_.joinable()) {
      std::thread t = std::move(t_);
      lock.unlock();
      t.join();
      return;
    }
    ended_cv_.wait(lock, [&] { return ended_; });  // another stop joins it, or it was detached
  }

 private:
  std::mutex mu_;
  std::condition_variable ended_cv_;
  std::thread t_;       // guarded by mu_
  std::thread::id id_;  // guarded by mu_
  bool ended_ = false;  // guarded by mu_
};

}  // namespace ferry
