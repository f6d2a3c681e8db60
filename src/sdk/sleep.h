// sleep_for: a sleep that ends early when a stop is requested (router stop), for middleware and
// the router's delay fallback.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

namespace ferry::detail {

// Sleeps for `d`, or until `stop` is requested. True if it slept the whole time.
inline bool sleep_for(std::chrono::nanoseconds d, const std::stop_token& stop) {
  if (d <= std::chrono::nanoseconds::zero()) return !stop.stop_requested();
  if (!stop.stop_possible()) {
    std::this_thread::sleep_for(d);
    return true;
  }
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  return !cv.wait_for(lock, stop, d, [] { return false; }) && !stop.stop_requested();
}

}  // namespace ferry::detail
