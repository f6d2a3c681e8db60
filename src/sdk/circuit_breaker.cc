// The circuit breaker and its middleware (see middleware.h).
#include <algorithm>

#include "ferry/check.h"
#include "ferry/middleware.h"

namespace ferry::middleware {

using std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

std::string_view to_string(breaker::state s) {
  switch (s) {
    case breaker::state::closed:
      return "closed";
    case breaker::state::open:
      return "open";
    case breaker::state::half_open:
      return "half_open";
  }
  return "unknown";
}

breaker::breaker(breaker_options options) : options_(options) {}

breaker::admission breaker::admit() {
  // The common case, closed, takes no lock.
  if (state_.load(std::memory_order_acquire) == state::closed) return {};
  std::lock_guard lock(mu_);
  const auto now = clock::now();
  switch (state_.load(std::memory_order_relaxed)) {
    case state::closed:
      return {};
    case state::open: {
      const auto reopen = opened_at_ + options_.open_for;
      if (now < reopen) return {false, std::chrono::ceil<milliseconds>(reopen - now)};
      state_.store(state::half_open, std::memory_order_release);
      successes_ = trials_ = 0;
      [[fallthrough]];
    }
    case state::half_open:
      if (trials_ >= std::max<std::uint32_t>(options_.half_open_successes, 1))
        return {false, std::max(milliseconds(1), options_.open_for / 4)};
      ++trials_;
      return {};
  }
  return {};
}

void breaker::record(bool success) {
  // Closed and nothing failed lately: nothing to change, no lock.
  if (success && state_.load(std::memory_order_acquire) == state::closed &&
      failures_.load(std::memory_order_relaxed) == 0)
    return;
  std::lock_guard lock(mu_);
  switch (state_.load(std::memory_order_relaxed)) {
    case state::closed:
      if (success) {
        failures_.store(0, std::memory_order_relaxed);
      } else if (failures_.fetch_add(1, std::memory_order_relaxed) + 1 >= options_.failure_threshold) {
        state_.store(state::open, std::memory_order_release);
        opened_at_ = clock::now();
      }
      break;
    case state::open:
      break;  // a call admitted before it opened: too late to matter
    case state::half_open:
      if (!success) {
        state_.store(state::open, std::memory_order_release);
        opened_at_ = clock::now();
      } else if (++successes_ >= std::max<std::uint32_t>(options_.half_open_successes, 1)) {
        state_.store(state::closed, std::memory_order_release);
        failures_.store(0, std::memory_order_relaxed);
      } else if (trials_ > 0) {
        --trials_;  // make room for the next trial
      }
      break;
  }
}

breaker::state breaker::current() const {
  std::lock_guard lock(mu_);
  if (state_ == state::open && clock::now() >= opened_at_ + options_.open_for) return state::half_open;
  return state_.load(std::memory_order_relaxed);
}

handler_middleware circuit_breaker(breaker_options options) {
  return circuit_breaker(std::make_shared<breaker>(options));
}

handler_middleware circuit_breaker(std::shared_ptr<breaker> b) {
  FERRY_CHECK(b != nullptr);
  return [b](handler next) -> handler {
    return [b, next = std::move(next)](message& m) -> outcome {
      const breaker::admission a = b->admit();
      if (!a.allowed) return outcome::retry(unavailable("circuit breaker open"), a.retry_after);
      outcome o = outcome::ack();
      try {
        o = next(m);
      } catch (...) {
        b->record(false);
        throw;
      }
      b->record(!o.is_retry());
      return o;
    };
  };
}

}  // namespace ferry::middleware
