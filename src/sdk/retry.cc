// The retry middleware: the one owner of retries (see middleware.h, "Retry ownership").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "ferry/middleware.h"
#include "sdk/random.h"
#include "sdk/sleep.h"

namespace ferry::middleware {

using std::chrono::milliseconds;

milliseconds retry_policy::backoff(std::uint64_t retry, milliseconds previous, double random01) const {
  const double cap = static_cast<double>(max_interval.count());
  const double initial = static_cast<double>(initial_interval.count());
  const auto exponential = [&](std::uint64_t n) {
    if (n == 0) return 0.0;
    return std::min(cap, initial * std::pow(multiplier, static_cast<double>(n - 1)));
  };
  random01 = std::clamp(random01, 0.0, 1.0);
  double d = exponential(retry);
  switch (jitter) {
    case middleware::jitter::none:
      break;
    case middleware::jitter::full:
      d *= random01;
      break;
    case middleware::jitter::decorrelated: {
      double prev = previous.count() > 0 ? static_cast<double>(previous.count()) : exponential(retry - 1);
      const double hi = std::max(initial, 3.0 * prev);
      d = std::min(cap, initial + random01 * (hi - initial));
      break;
    }
  }
  return milliseconds(static_cast<milliseconds::rep>(std::llround(d)));
}

namespace {

struct retry_runner {
  // The delay before retrying after the failed attempt `o` of `m`; nullopt once retries are spent.
  std::optional<milliseconds> next_delay(const message& m, const outcome& o, milliseconds elapsed,
                                         milliseconds previous) const {
    if (policy.should_retry && !policy.should_retry(o.why())) return std::nullopt;
    if (policy.max_attempts && m.attempt() >= policy.max_attempts) return std::nullopt;
    const milliseconds d = std::max(o.delay(), policy.backoff(m.attempt(), previous, detail::random01()));
    if (policy.max_elapsed.count() > 0 && elapsed + d > policy.max_elapsed) return std::nullopt;
    return d;
  }

  // Retries are spent: drop, through the dead-letter middleware when the chain has one.
  outcome exhausted(message& m, const status& why) const {
    if (policy.on_exhausted) policy.on_exhausted(m, why, m.attempt());
    if (info->dead_letter) return info->dead_letter(m, why);
    return outcome::drop(why);
  }

  outcome in_process(message& m) const {
    const auto start = std::chrono::steady_clock::now();
    milliseconds previous{0};
    for (;;) {
      outcome o = next(m);
      if (!o.is_retry() || m.state() != settlement::pending) return o;
      const auto now = std::chrono::steady_clock::now();
      const auto d = next_delay(m, o, std::chrono::duration_cast<milliseconds>(now - start), previous);
      if (!d) return exhausted(m, o.why());
      // An outer timeout would end the wait: leave this retry to a redelivery instead.
      if (m.deadline != std::chrono::steady_clock::time_point::max() && now + *d >= m.deadline) return o;
      if (policy.on_retry) policy.on_retry(m, o.why(), m.attempt(), *d);
      if (!detail::sleep_for(*d, info->stop)) return o;  // the router is stopping: nack now
      previous = *d;
      ++m.local_retries;
    }
  }

  outcome redeliver(message& m) const {
    outcome o = next(m);
    if (!o.is_retry() || m.state() != settlement::pending) return o;
    milliseconds elapsed{0};
    if (m.delivery.published != std::chrono::system_clock::time_point{})
      elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now() - m.delivery.published);
    const auto d = next_delay(m, o, elapsed, milliseconds(0));
    if (!d) return exhausted(m, o.why());
    if (policy.on_retry) policy.on_retry(m, o.why(), m.attempt(), *d);
    return outcome::retry(o.why(), *d);
  }

  retry_policy policy;
  handler next;
  handler_info* info = nullptr;
  bool redelivers = false;
};

}  // namespace

handler_middleware retry(retry_policy policy) {
  return [policy = std::move(policy)](handler next, handler_info& info) -> handler {
    info.retry_owned = true;
    auto r = std::make_shared<retry_runner>(retry_runner{policy, std::move(next), &info, false});
    if (policy.mode == retry_mode::redeliver) {
      r->redelivers = info.caps.redelivery && info.caps.delivery_count;
      if (!r->redelivers)
        spdlog::warn(
            "{}: retry mode redeliver needs a transport that redelivers and counts deliveries; "
            "retrying in process instead",
            info.name);
    }
    return [r](message& m) { return r->redelivers ? r->redeliver(m) : r->in_process(m); };
  };
}

}  // namespace ferry::middleware
