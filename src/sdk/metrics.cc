#include "ferry/metrics.h"

#include <algorithm>

#include "base/prometheus.h"
#include "ferry/handler.h"
#include "ferry/middleware.h"

namespace ferry {

metrics_registry::handler_metrics::handler_metrics(const std::vector<double>* bounds)
    : buckets(std::make_unique<std::atomic<std::uint64_t>[]>(bounds->size())), bounds_(bounds) {
  for (std::size_t i = 0; i < bounds->size(); ++i) buckets[i].store(0, std::memory_order_relaxed);
}

void metrics_registry::handler_metrics::record(std::string_view outcome, std::chrono::nanoseconds duration) {
  if (outcome == "ack") {
    acked.fetch_add(1, std::memory_order_relaxed);
  } else if (outcome == "retry") {
    retried.fetch_add(1, std::memory_order_relaxed);
  } else {
    dropped.fetch_add(1, std::memory_order_relaxed);
  }
  const double seconds = std::chrono::duration<double>(duration).count();
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), seconds);
  if (it != bounds_->end()) buckets[it - bounds_->begin()].fetch_add(1, std::memory_order_relaxed);
  duration_sum_ns.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                            std::memory_order_relaxed);
  duration_count.fetch_add(1, std::memory_order_relaxed);
}

metrics_registry::metrics_registry(std::vector<double> bucket_bounds) : bounds_(std::move(bucket_bounds)) {}

std::vector<double> metrics_registry::default_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

metrics_registry::handler_metrics& metrics_registry::handler(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = handlers_.find(name);
  if (it == handlers_.end())
    it = handlers_.emplace(std::string(name), std::make_unique<handler_metrics>(&bounds_)).first;
  return *it->second;
}

std::string metrics_registry::prometheus_text() const {
  std::lock_guard lock(mu_);
  prometheus_writer w;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of) {
    w.family(name, type, help);
    for (const auto& [handler_name, m] : handlers_) {
      w.sample(name, {{"handler", handler_name}}, static_cast<double>(value_of(*m)));
    }
  };
  auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  family("ferry_handler_received_total", "counter", "Handler calls.", [&](auto& m) { return load(m.received); });
  family("ferry_handler_acked_total", "counter", "Handler calls that acked.", [&](auto& m) { return load(m.acked); });
  family("ferry_handler_retried_total", "counter", "Handler calls that asked for a retry.",
         [&](auto& m) { return load(m.retried); });
  family("ferry_handler_dropped_total", "counter", "Handler calls that dropped the message.",
         [&](auto& m) { return load(m.dropped); });
  family("ferry_handler_in_flight", "gauge", "Handler calls running now.", [&](auto& m) { return load(m.in_flight); });

  w.family("ferry_handler_duration_seconds", "histogram", "Handler call duration.");
  for (const auto& [handler_name, m] : handlers_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += load(m->buckets[i]);
      const std::string le = prometheus_number(bounds_[i]);
      w.sample("ferry_handler_duration_seconds_bucket", {{"handler", handler_name}, {"le", le}},
               static_cast<double>(cumulative));
    }
    const auto count = static_cast<double>(load(m->duration_count));
    w.sample("ferry_handler_duration_seconds_bucket", {{"handler", handler_name}, {"le", "+Inf"}}, count);
    w.sample("ferry_handler_duration_seconds_sum", {{"handler", handler_name}},
             static_cast<double>(load(m->duration_sum_ns)) / 1e9);
    w.sample("ferry_handler_duration_seconds_count", {{"handler", handler_name}}, count);
  }
  return w.take();
}

namespace middleware {

handler_middleware metrics(metrics_registry& r) {
  return [&r](handler next, handler_info& info) -> handler {
    metrics_registry::handler_metrics* m = &r.handler(info.name);
    return [m, next = std::move(next)](message& msg) -> outcome {
      m->received.fetch_add(1, std::memory_order_relaxed);
      m->in_flight.fetch_add(1, std::memory_order_relaxed);
      const auto start = std::chrono::steady_clock::now();
      outcome o = outcome::ack();
      try {
        o = next(msg);
      } catch (...) {
        m->in_flight.fetch_sub(1, std::memory_order_relaxed);
        m->record("retry", std::chrono::steady_clock::now() - start);  // the router nacks it
        throw;
      }
      m->in_flight.fetch_sub(1, std::memory_order_relaxed);
      m->record(to_string(o.what()), std::chrono::steady_clock::now() - start);
      return o;
    };
  };
}

}  // namespace middleware
}  // namespace ferry
