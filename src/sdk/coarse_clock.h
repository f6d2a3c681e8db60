// coarse_clock: a steady clock read from the kernel's tick (CLOCK_MONOTONIC_COARSE): a few
// nanoseconds per read instead of tens on virtual machines, at the cost of a resolution of one
// tick (1-4 ms). For expiry times counted in seconds or minutes (dedup TTLs), not for timing.
#pragma once

#include <time.h>

#include <chrono>

namespace ferry::detail {

struct coarse_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<coarse_clock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

}  // namespace ferry::detail
