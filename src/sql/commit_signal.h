// commit_signal: wakes the waiters of database::wait_for_commit() in this process. A counter
// under a mutex, so a signal given between two waits is seen by the next one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ferry::sql::detail {

class commit_signal {
 public:
  void notify() {
    {
      std::lock_guard lock(mu_);
      ++count_;
    }
    cv_.notify_all();
  }
  // True if notify() was called since this waiter's last wait (`seen`: the waiter's own count).
  bool wait(std::uint64_t& seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    const bool got = cv_.wait_for(lock, timeout, [&] { return count_ != seen; });
    seen = count_;
    return got;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t count_ = 0;
};

}  // namespace ferry::sql::detail
