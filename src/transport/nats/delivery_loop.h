// delivery_loop: the thread of one NATS subscription (core or JetStream). It takes messages from
// a `source` in batches no larger than the free in-flight slots and calls the callback with each,
// one at a time, in order, never under a lock. Settlers free slots through the shared
// `in_flight_gate`, which outlives the loop while deliveries are unsettled.
//
// Thread safety: stop() may be called from any thread, including from inside the callback (then
// it does not wait for itself).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/thread.h"
#include "ferry/transport.h"

namespace ferry::nats::detail {

// Counts one subscription's unsettled deliveries, at most `max`. Taking and releasing slots are
// atomic operations; the lock is only for the loop waiting for room (one waiter: its thread).
class in_flight_gate {
 public:
  explicit in_flight_gate(std::size_t max) : max_(max) {}
  // Waits up to `wait` for a free slot; returns how many are free (0: none, or closed).
  std::size_t wait_room(std::chrono::milliseconds wait);
  void take(std::size_t n);
  void release();  // from settlers, any thread
  void close();

 private:
  const std::size_t max_;
  std::mutex mu_;  // for cv_ only
  std::condition_variable cv_;
  std::atomic<std::size_t> used_{0};
  std::atomic<bool> waiting_{false};  // the loop sleeps (or is about to) on cv_
  std::atomic<bool> closed_{false};
};

class delivery_loop : public std::enable_shared_from_this<delivery_loop> {
 public:
  // Where messages come from (a NATS subscription, a JetStream pull consumer).
  class source {
   public:
    virtual ~source() = default;
    // Appends up to `max` delivered messages (settlers attached, each releasing a slot of `gate`)
    // to `out`, waiting at most `wait` for the first. False when the subscription is gone.
    virtual bool next(std::size_t max, std::chrono::milliseconds wait, const std::shared_ptr<in_flight_gate>& gate,
                      std::vector<message>& out) = 0;
    // Makes a blocked next() return soon (stop).
    virtual void interrupt() = 0;
  };

  delivery_loop(std::string subject, std::unique_ptr<source> src, delivery_callback cb, std::size_t max_in_flight,
                std::size_t max_batch, std::chrono::milliseconds poll);
  ~delivery_loop();
  void start();
  // Stops taking messages, nacks those taken but not yet handed over, and waits until the
  // callback has returned (unless called from it), however many threads stop it at once.
  // Idempotent.
  void stop();
  [[nodiscard]] const std::string& subject() const { return subject_; }

 private:
  void run();

  const std::string subject_;
  std::unique_ptr<source> src_;
  const delivery_callback cb_;
  const std::shared_ptr<in_flight_gate> gate_;
  const std::size_t max_batch_;
  const std::chrono::milliseconds poll_;
  std::atomic<bool> stopping_{false};
  subscription_thread thread_;
};

// The loops of one transport, so close() can stop them all.
class loop_registry {
 public:
  // Registers `l`; false after stop_all() (the caller stops it: the transport is closing).
  [[nodiscard]] bool add(const std::shared_ptr<delivery_loop>& l);
  // Stops every registered loop, and refuses later ones.
  void stop_all();

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<delivery_loop>> loops_;  // guarded by mu_
  bool stopped_ = false;                             // guarded by mu_
};

// The subscription object both transports hand out: stops its loop when stopped or destroyed.
class loop_subscription final : public subscription {
 public:
  explicit loop_subscription(std::shared_ptr<delivery_loop> loop) : loop_(std::move(loop)) {}
  ~loop_subscription() override { stop(); }
  void stop() override { loop_->stop(); }
  [[nodiscard]] const std::string& subject() const override { return loop_->subject(); }

 private:
  const std::shared_ptr<delivery_loop> loop_;
};

}  // namespace ferry::nats::detail
