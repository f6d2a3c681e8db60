// throughput: what the rows of transport_throughput share: a padded counter, CPU time per thread,
// medians, and the table row printer.
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string_view>
#include <thread>
#include <vector>

#include "ferry/transport.h"

namespace throughput {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t payload_size = 16;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// What a subscriber counts, on a cache line of its own: the subscriber's thread writes it for every
// message, and it lives on the publisher's stack next to the messages being built.
struct alignas(64) counter : std::atomic<std::uint64_t> {
  counter() : std::atomic<std::uint64_t>(0) {}
};

inline void wait_for(const std::atomic<std::uint64_t>& n, std::uint64_t target, std::chrono::seconds limit = 120s) {
  const auto end = clock_type::now() + limit;
  while (n.load(std::memory_order_acquire) < target && clock_type::now() < end) std::this_thread::sleep_for(100us);
}

// CPU time the whole process has used so far, in nanoseconds.
inline double process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// CPU time the calling thread has used so far, in nanoseconds.
inline double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Counts a message on the one thread that delivers them; at the last of `n`, first records that
// thread's CPU time in `cpu_ns` (so it is there once the count shows `n`).
inline void count_one(counter& got, std::uint64_t n, std::atomic<double>& cpu_ns) {
  if (got.load(std::memory_order_relaxed) + 1 == n) cpu_ns.store(thread_cpu_ns());
  got.fetch_add(1, std::memory_order_release);
}

// Runs of one row: msgs/s of each, and where measured the CPU time per message of the publishing
// thread and of the thread that hands messages to the subscriber's code.
struct runs {
  std::vector<double> rates;
  std::vector<double> pub_cpu, sub_cpu;  // ns per message
  std::vector<double> all_cpu;           // ns per message, every thread of the process
  [[nodiscard]] double median() const { return median_of(rates); }
  // The fastest run: on a shared machine, the one least disturbed by others.
  [[nodiscard]] double best() const { return rates.empty() ? 0 : *std::max_element(rates.begin(), rates.end()); }
  // The median of the per-round ratios this / `base`: each pair ran side by side, so a noisy
  // moment of the machine spoils one pair rather than one side.
  [[nodiscard]] double paired_ratio(const runs& base) const {
    std::vector<double> r;
    for (std::size_t i = 0; i < rates.size() && i < base.rates.size(); ++i) {
      if (base.rates[i] > 0) r.push_back(rates[i] / base.rates[i]);
    }
    return r.empty() ? 0 : median_of(r);
  }
  void print(const char* name) const {
    const auto [lo, hi] = std::minmax_element(rates.begin(), rates.end());
    std::printf("%-44s %10.0f msgs/s median of %zu (%.0f .. %.0f)", name, median(), rates.size(), *lo, *hi);
    if (!pub_cpu.empty()) std::printf("; CPU/msg: publisher %.0f ns", median_of(pub_cpu));
    if (!sub_cpu.empty())
      std::printf("%s subscriber %.0f ns", pub_cpu.empty() ? "; CPU/msg:" : ",", median_of(sub_cpu));
    if (!all_cpu.empty()) std::printf(", process %.0f ns", median_of(all_cpu));
    std::printf("\n");
    std::fflush(stdout);
  }
};

// msgs/s of one run; 0 when not every message arrived (the run is reported as lost).
inline double rate(std::uint64_t got, std::uint64_t n, double secs) {
  return got >= n ? static_cast<double>(got) / secs : 0;
}

// Publishes n messages of payload_size bytes with ids "id-<i>" to `subject` through `t`: one
// publish() at a time (batch 1) or publish(vector of `batch`); records msgs/s (0 if any failed) and
// the publishing thread's CPU per message.
inline void sdk_publish(ferry::transport& t, const std::string& subject, std::uint64_t n, std::size_t batch, runs& r) {
  const std::string payload(payload_size, 'x');
  std::uint64_t failed = 0;
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns();
  for (std::uint64_t i = 0; i < n; i += batch) {
    std::vector<ferry::message> v;
    for (std::uint64_t j = i; j < std::min<std::uint64_t>(i + batch, n); ++j) {
      ferry::message m(subject, payload);
      m.id = "id-" + std::to_string(j);
      v.push_back(std::move(m));
    }
    const ferry::status s = batch == 1 ? t.publish(std::move(v[0])) : t.publish(std::move(v));
    if (!s.is_ok()) ++failed;
  }
  r.pub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.rates.push_back(failed == 0 ? static_cast<double>(n) / seconds_since(start) : 0);
}

// Subscribes `subject` with `o` and acks n messages in the callback; records msgs/s (0 if not all
// came) and the delivering thread's CPU per message.
inline void sdk_consume(ferry::transport& t, const std::string& subject, const ferry::subscription_options& o,
                        std::uint64_t n, runs& r) {
  counter got;
  std::atomic<double> cpu{0};
  std::atomic<double> first_cpu{-1};
  const auto start = clock_type::now();
  auto sub = t.subscribe(subject, o, [&](ferry::message m) {
    if (first_cpu.load() < 0) first_cpu = thread_cpu_ns();
    m.ack();
    count_one(got, n, cpu);
  });
  if (!sub.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  wait_for(got, n);
  const double secs = seconds_since(start);
  r.sub_cpu.push_back((cpu.load() - first_cpu.load()) / static_cast<double>(n));
  r.rates.push_back(rate(got.load(), n, secs));
}

// Which rows to run: all, or those whose name starts with --only's value.
using wanted_fn = std::function<bool(std::string_view)>;

// The Kafka rows (bench/kafka_rows.cc), against a mock cluster started here.
void kafka_rows(int rounds, bool quick, const wanted_fn& wanted);
// The Redis rows (bench/redis_rows.cc), against a redis-server started here.
void redis_rows(int rounds, bool quick, const wanted_fn& wanted);
// The RabbitMQ rows (bench/rabbitmq_rows.cc), against a rabbitmq-server node started here.
void rabbitmq_rows(int rounds, bool quick, const wanted_fn& wanted);

}  // namespace throughput
