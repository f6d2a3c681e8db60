// metrics: per-handler counters, a duration histogram and an in-flight gauge, exposed in the
// Prometheus text format.
//
//   ferry::metrics_registry registry;
//   r.use(ferry::middleware::metrics(registry));
//   ...
//   http_get("/metrics", [&] { return registry.prometheus_text(); });
//
// Families (label handler="<name>"):
//   ferry_handler_received_total   counter    calls of the handler (as wrapped: an in-process retry
//                                             inside the metrics middleware counts again)
//   ferry_handler_acked_total      counter    outcomes ack
//   ferry_handler_retried_total    counter    outcomes retry (exceptions included)
//   ferry_handler_dropped_total    counter    outcomes drop
//   ferry_handler_in_flight        gauge      calls running now
//   ferry_handler_duration_seconds histogram  call duration
//
// Thread safety: everything is thread-safe; recording is lock-free (atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class metrics_registry {
 public:
  // One handler's metrics; stable for the registry's life.
  class handler_metrics {
   public:
    explicit handler_metrics(const std::vector<double>* bounds);
    void record(std::string_view outcome, std::chrono::nanoseconds duration);  // "ack" | "retry" | "drop"
    std::atomic<std::uint64_t> received{0}, acked{0}, retried{0}, dropped{0};
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::uint64_t> duration_count{0}, duration_sum_ns{0};
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets;  // per bound, not cumulative

   private:
    const std::vector<double>* bounds_;
  };

  // Histogram bucket upper bounds in seconds, ascending; the default suits handlers that take
  // 100 microseconds to 10 seconds.
  explicit metrics_registry(std::vector<double> bucket_bounds = default_buckets());
  static std::vector<double> default_buckets();

  // The metrics of handler `name`, made on first use.
  handler_metrics& handler(std::string_view name);
  // Every family, in the Prometheus text exposition format (version 0.0.4).
  [[nodiscard]] std::string prometheus_text() const;
  [[nodiscard]] const std::vector<double>& bucket_bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;  // guards handlers_ (the map; the metrics themselves are atomic)
  std::map<std::string, std::unique_ptr<handler_metrics>, std::less<>> handlers_;
};

}  // namespace ferry
