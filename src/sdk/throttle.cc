// The throttle middleware (see middleware.h): a token bucket kept as a theoretical arrival time
// (GCRA): each call reserves the next slot, `per / count` after the previous one, and may run
// early by up to `per - per / count`, which is the burst of `count`.
#include <algorithm>
#include <mutex>

#include "ferry/check.h"
#include "ferry/middleware.h"
#include "sdk/sleep.h"

namespace ferry::middleware {

namespace {

class token_bucket {
 public:
  token_bucket(std::uint32_t count, std::chrono::milliseconds per)
      : interval_(std::chrono::duration_cast<std::chrono::nanoseconds>(per) / count), burst_(per - interval_) {}

  // Takes a token; returns how long to wait before using it.
  std::chrono::nanoseconds take() {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    const auto tat = std::max(next_, now);
    next_ = tat + interval_;
    const auto allowed_at = tat - burst_;
    return allowed_at > now ? allowed_at - now : std::chrono::nanoseconds(0);
  }

 private:
  const std::chrono::nanoseconds interval_, burst_;
  std::mutex mu_;                                 // guards next_
  std::chrono::steady_clock::time_point next_{};  // theoretical arrival time of the next call
};

}  // namespace

handler_middleware throttle(std::uint32_t count, std::chrono::milliseconds per) {
  FERRY_CHECK(count > 0 && per.count() > 0);
  auto bucket = std::make_shared<token_bucket>(count, per);
  return [bucket](handler next, handler_info& info) -> handler {
    return [bucket, next = std::move(next), &info](message& m) -> outcome {
      if (!detail::sleep_for(bucket->take(), info.stop))
        return outcome::retry(status(status_code::cancelled, "router stopping"));
      return next(m);
    };
  };
}

}  // namespace ferry::middleware
