// sub_state: one in-process subscription: its bounded queue, its in-flight count, and the turn a
// worker takes to hand queued messages to its callback. Shared (shared_ptr) by the transport's
// routing table, the worker pool while it is scheduled, the redelivery timer, and the settler of
// every delivered message still referred to, so a late ack after stop() or close() is harmless.
//
// Scheduling invariant: the subscription is in the pool's queue or being run by one worker
// (`scheduled_`) whenever it has queued messages and a free in-flight slot, and at most once.
// Settlements decrement the in-flight count without the lock; `starved_` tells them that queued
// messages wait for a slot (set before the count is re-read, so one side always sees the other).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ferry/inproc.h"
#include "ferry/settler_pool.h"
#include "ferry/transport.h"
#include "transport/inproc/redelivery_timer.h"
#include "transport/inproc/ring.h"
#include "transport/inproc/worker_pool.h"

namespace ferry::inproc::detail {

class delivery_settler;

// The threads and settings one transport's subscriptions share.
struct engine {
  options opts;
  std::shared_ptr<worker_pool> pool;
  std::unique_ptr<redelivery_timer> timer;
};

// How push() treats a full queue.
enum class push_mode : std::uint8_t {
  try_only,    // resource_exhausted at once, `m` untouched
  policy,      // as options::when_full / block_timeout say (`m` untouched on failure)
  over_bound,  // queue it anyway (publishes from inside a callback)
};

class sub_state final : public runnable, public std::enable_shared_from_this<sub_state> {
 public:
  sub_state(std::shared_ptr<engine> eng, std::string pattern, subscription_options opts, delivery_callback cb);
  ~sub_state() override;

  [[nodiscard]] const std::string& pattern() const { return pattern_; }
  [[nodiscard]] const std::string& group() const { return opts_.group; }

  // Queues `m` (moved from on success). OK also when the subscription has stopped (dropped).
  status push(message& m, push_mode mode);
  // Queues `ms` in order (each moved from once queued); on failure the rest stay untouched.
  status push_many(std::span<message> ms, push_mode mode);
  // One worker turn: hands up to `budget` queued messages to the callback (runnable).
  void run(std::size_t budget) override;

  // From settlers: the delivery is settled (frees its in-flight slot).
  void settled();
  // From settlers: nack. Queues `m` again (at the front; after `delay` via the timer) and frees
  // the slot.
  void redeliver(message m, std::chrono::milliseconds delay);

  // From settlers, once no message refers to their delivery: the settler may serve another.
  void recycle(delivery_settler* s);

  // Stops deliveries, drops the queue, and waits for a running callback to return (unless called
  // from this subscription's own callback). Idempotent.
  void stop();
  // Waits until the queue is empty (everything handed to the callback) or `deadline`. From this
  // subscription's own callback (close() in a handler) the queue waits behind the caller: true at
  // once when it is empty, false at once when not.
  bool wait_drained(std::chrono::steady_clock::time_point deadline);

  // True while the calling thread runs a callback of a transport using `eng`.
  static bool in_callback_of(const engine* eng);

 private:
  void push_front(message m);  // a redelivery: ahead of the queue, over the bound
  // REQUIRES: mu_ held. True if the caller must schedule this subscription (and it is now marked
  // scheduled).
  bool take_schedule_locked();
  void schedule() { eng_->pool->schedule(shared_from_this()); }
  // Hands `m` (a queue slot, left moved-from) to the callback.
  void deliver(message& m, delivery_settler* s);
  // After a turn's deliveries: waits a few microseconds for more instead of ending the turn. True
  // when there is more to take now.
  bool linger();
  // REQUIRES: mu_ held. Waits for room as `mode` says; false (with `why`) when there is none.
  bool wait_for_room_locked(std::unique_lock<std::mutex>& lock, push_mode mode, status& why);

  const std::shared_ptr<engine> eng_;
  const std::string pattern_;
  const subscription_options opts_;
  const delivery_callback cb_;
  const std::size_t capacity_;

  std::mutex mu_;
  std::condition_variable space_cv_;         // publishers waiting for room
  std::condition_variable idle_cv_;          // stop() waiting for a turn to end; flush waiting for drain
  ring<message> queue_;                      // guarded by mu_
  std::atomic<std::size_t> queued_hint_{0};  // queue_.size(), written under mu_, read by linger()
  std::size_t space_waiters_ = 0;            // guarded by mu_
  std::size_t idle_waiters_ = 0;             // guarded by mu_
  bool scheduled_ = false;                   // guarded by mu_
  bool running_ = false;                     // guarded by mu_
  bool stopped_ = false;                     // guarded by mu_
  std::thread::id running_on_;               // guarded by mu_
  // From here on: what settling and the running turn write for every message, on a cache line of
  // its own (publishers write the queue above for every message).
  alignas(64) std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> starved_{false};
  std::atomic<bool> stop_flag_{false};  // stopped_, readable between deliveries without the lock

  // Settlers are pooled (with their message buffers); only the running turn takes them.
  settler_pool<delivery_settler> settlers_;
};

}  // namespace ferry::inproc::detail
