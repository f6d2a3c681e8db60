// redelivery_timer: one thread that hands nacked messages back to their subscription once their
// delay has passed (nack with a delay). Entries are dropped by stop().
//
// Thread safety: every method is thread-safe; the thread runs the hand-back without the lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace ferry::inproc::detail {

class redelivery_timer {
 public:
  using clock = std::chrono::steady_clock;
  redelivery_timer();
  ~redelivery_timer();  // stop()
  redelivery_timer(const redelivery_timer&) = delete;
  redelivery_timer& operator=(const redelivery_timer&) = delete;

  // Runs `fn` on the timer thread at `due` (or soon after). Dropped after stop().
  void at(clock::time_point due, std::function<void()> fn);
  // Drops every pending entry and joins the thread (detaches it if called from it). Idempotent.
  void stop();

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<clock::time_point, std::function<void()>> due_;  // guarded by mu_
  bool stopping_ = false;                                        // guarded by mu_
  std::thread thread_;
};

}  // namespace ferry::inproc::detail
