// worker_pool: a fixed number of threads that run whatever is scheduled on them, one task at a
// time per scheduling, in the order scheduled. The in-process transport schedules a subscription
// when it has messages to deliver; the subscription runs one turn and schedules itself again if
// work is left, so no subscription is ever run by two threads at once and none starves the rest.
//
// Thread safety: every method is thread-safe. stop() may be called from a worker thread (a
// callback that closes its transport): that thread is detached instead of joined.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::inproc::detail {

// Something a worker runs: one turn of at most `budget` units of work.
class runnable {
 public:
  virtual ~runnable() = default;
  virtual void run(std::size_t budget) = 0;
};

class worker_pool : public std::enable_shared_from_this<worker_pool> {
 public:
  // Starts `threads` workers (at least 1); each turn gets `budget`.
  static std::shared_ptr<worker_pool> start(std::size_t threads, std::size_t budget);
  ~worker_pool();

  // Queues `r` to be run once. After stop(), does nothing.
  void schedule(std::shared_ptr<runnable> r);
  // True when something scheduled waits for a worker (a running turn should end soon).
  [[nodiscard]] bool others_waiting() const { return queued_.load(std::memory_order_relaxed) != 0; }
  // Stops taking work, drops what was queued, and joins the workers (the calling worker, if it is
  // one, is detached and exits when its task returns). Idempotent.
  void stop();

 private:
  explicit worker_pool(std::size_t budget) : budget_(budget) {}
  void loop();

  const std::size_t budget_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<runnable>> ready_;  // guarded by mu_
  std::size_t sleepers_ = 0;                     // guarded by mu_: workers waiting on cv_
  bool stopping_ = false;                        // guarded by mu_
  std::atomic<std::size_t> queued_{0};           // ready_.size(), for spinning without the lock
  std::vector<std::thread> threads_;             // written by start() and stop() only
  std::once_flag stopped_;
};

}  // namespace ferry::inproc::detail
