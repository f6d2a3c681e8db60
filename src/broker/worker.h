// worker: one I/O thread with its own asio::io_context, and the per-thread state of the hot
// path: the subject match cache, the message encoder, and the list of connections that got
// output during the current batch (flushed once at the end of the batch).
//
// Every connection is owned by one worker: its reads, timers and TLS run on that worker's
// thread. Publishing may write into connections owned by other workers (see connection.h).
#pragma once

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "broker/sublist.h"
#include "protocol/encoder.h"

namespace ferry::broker {

class connection;

// Counters written only by the worker's own thread and read by monitoring (relaxed).
struct worker_stats {
  std::atomic<std::uint64_t> in_msgs{0};
  std::atomic<std::uint64_t> in_bytes{0};
  std::atomic<std::uint64_t> out_msgs{0};
  std::atomic<std::uint64_t> out_bytes{0};
  void add(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class worker {
 public:
  worker(const sublist& sl, int index);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  [[nodiscard]] int index() const { return index_; }
  asio::io_context& io() { return io_; }

  // Starts the thread; it runs io() until stop(). With pin_cpu >= 0 the thread is bound to
  // that CPU (thread per core: the scheduler then leaves the core to this worker and moves
  // other threads away instead of migrating the worker).
  void start(int pin_cpu = -1);
  // Stops the loop and joins the thread. Idempotent.
  void stop();

  // Drops cached matches and scheduled flushes (they hold connections). Call after stop().
  void release_state();

  // The worker whose thread is calling, or nullptr outside the workers.
  static worker* current();
  [[nodiscard]] bool on_this_thread() const { return current() == this; }

  // Per-thread state; use only on this worker's thread.
  match_cache& cache() { return cache_; }
  protocol::message_encoding& encoding() { return encoding_; }
  // Remembers `c` for the flush at the end of the current batch.
  void schedule_flush(std::shared_ptr<connection> c) { flushes_.push_back(std::move(c)); }
  // Writes out every connection scheduled since the last call (after the round tasks).
  void run_flushes();
  // Runs `t` at the end of the current round. Use only on this worker's thread.
  void at_round_end(std::shared_ptr<round_task> t) { round_tasks_.push_back(std::move(t)); }
  // Destinations of the current batch that are past 3/4 of max_pending; the publisher
  // takes them after its batch and stalls until they drain (or a short time passes).
  void note_congested(std::shared_ptr<connection> c) {
    if (congested_.empty() || congested_.back() != c) congested_.push_back(std::move(c));
  }
  std::vector<std::shared_ptr<connection>> take_congested() { return std::move(congested_); }

  // Called after a large read: the worker polls briefly before its next sleep.
  void note_streaming() { streaming_ = true; }

  worker_stats stats;

 private:
  void run_loop();

  int index_;
  std::chrono::microseconds spin_{spin_default()};
  bool streaming_ = false;
  static std::chrono::microseconds spin_default() {
    const char* e = std::getenv("FERRYD_SPIN_US");
    return std::chrono::microseconds(e != nullptr ? std::atoi(e) : 50);
  }
  asio::io_context io_{1};
  std::thread thread_;
  std::atomic<bool> started_{false};
  bool pin_ = false;
  int pin_cpu_ = 0;
  match_cache cache_;
  protocol::message_encoding encoding_;
  std::vector<std::shared_ptr<connection>> flushes_;
  std::vector<std::shared_ptr<connection>> flushing_;
  std::vector<std::shared_ptr<connection>> congested_;
  std::vector<std::shared_ptr<round_task>> round_tasks_;
  std::vector<std::shared_ptr<round_task>> running_tasks_;
};

}  // namespace ferry::broker
