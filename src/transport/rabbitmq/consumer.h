// consumer: one subscription of the RabbitMQ transport: a connection of its own and the thread
// that consumes its queue, delivers each message and sends what the settlers recorded.
//
// Settlers run on any thread: they record the settlement (under settlements::mu) and wake the
// thread through an eventfd. The thread acks the settled prefix of its deliveries with one
// multiple basic.ack (and the rest one by one), rejects terminated ones, and requeues nacked ones
// (basic.nack requeue) once their delay is over: until then the delivery stays unacknowledged and
// holds its prefetch slot. A delivery left unsettled past ack_wait (in_progress() restarts the
// clock) is requeued the same way and its late settlement ignored; a delivery past max_deliver is
// rejected without reaching the callback.
//
// After a broken connection the thread connects again, declares its topology again and consumes
// anew; settlements of deliveries from the old channel are ignored (the broker requeued them).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/thread.h"
#include "ferry/rabbitmq.h"
#include "ferry/settler_pool.h"
#include "ferry/transport.h"
#include "transport/rabbitmq/amqp.h"

namespace ferry::rabbitmq::detail {

class rabbit_settler;

// What the settlers of one subscription record for its thread.
struct settlements {
  enum class kind : std::uint8_t { ack, nack, term, touch };
  struct record {
    std::uint32_t generation;  // of the channel the delivery came on
    std::uint64_t tag;
    kind what;
    std::chrono::milliseconds delay;  // nack
  };
  settlements();
  ~settlements();
  settlements(const settlements&) = delete;
  settlements& operator=(const settlements&) = delete;
  // Records `r` and wakes the thread. Thread-safe.
  void add(const record& r);

  std::mutex mu;
  std::vector<record> records;        // guarded by mu
  int wake_fd = -1;                   // an eventfd the thread polls
  settler_pool<rabbit_settler> pool;  // taken by the subscription's thread only
};

class rabbit_settler final : public settler {
 public:
  void start(std::shared_ptr<settlements> owner, std::uint32_t generation, std::uint64_t tag);
  void ack() override { record(settlements::kind::ack); }
  void nack(std::chrono::milliseconds delay) override { record(settlements::kind::nack, delay); }
  void term(std::string_view) override { record(settlements::kind::term); }
  void in_progress() override { record(settlements::kind::touch); }

  rabbit_settler* pool_next = nullptr;

 private:
  void record(settlements::kind k, std::chrono::milliseconds delay = {});
  void release() override;
  std::shared_ptr<settlements> owner_;
  std::uint32_t generation_ = 0;
  std::uint64_t tag_ = 0;
};

class consumer : public std::enable_shared_from_this<consumer> {
 public:
  struct config {
    std::string subject;  // a NATS pattern
    std::string group;    // empty: a queue of this subscription's own
    std::string queue;
    subscription_options subscription;
    delivery_callback callback;
  };

  // Connects, declares and binds the queue, starts consuming and starts the thread.
  static result<std::shared_ptr<consumer>> start(const std::string& address, const options& o, config c);
  ~consumer();
  // Stops consuming, sends the acks recorded so far, deletes a queue of its own, closes the
  // connection (the broker requeues what is unacknowledged) and waits for the thread (unless
  // called from the callback). Idempotent.
  void stop();
  [[nodiscard]] const std::string& subject() const { return config_.subject; }

 private:
  enum class state : std::uint8_t { unsettled, acked, held, done };
  struct slot {
    std::uint64_t tag;
    state st = state::unsettled;
    std::uint32_t count = 1;                      // deliveries so far
    std::chrono::steady_clock::time_point until;  // unsettled: ack_wait ends; held: requeue then
  };

  consumer(const std::string& address, const options& o, config c);
  // Connects (again), declares, binds, sets the prefetch and consumes; a new generation.
  status setup();
  void run();
  // One round: settles, requeues what is due, reads and delivers what arrived.
  status round();
  status apply_records();
  status requeue_due(std::chrono::steady_clock::time_point now);
  status send_acks();
  status read_frames(std::chrono::milliseconds wait);
  status deliver(const amqp_frame_t& f);
  slot* find(std::uint64_t tag);
  // Sends basic.nack requeue, or basic.reject when the delivery reached max_deliver.
  status give_back(slot& s, std::string_view why);
  void finish();

  const std::string address_;
  const options options_;
  const config config_;
  const std::shared_ptr<settlements> s_;
  std::atomic<bool> stopping_{false};
  subscription_thread thread_;

  // The thread's own state.
  std::unique_ptr<connection> conn_;
  std::uint32_t generation_ = 0;
  std::deque<slot> slots_;  // unacknowledged deliveries of this generation, in tag order
  std::chrono::steady_clock::time_point next_timer_;
  std::vector<settlements::record> records_;
  std::string routing_key_;  // of the delivery being read (its buffer reused)
  std::chrono::milliseconds backoff_{0};
};

}  // namespace ferry::rabbitmq::detail
