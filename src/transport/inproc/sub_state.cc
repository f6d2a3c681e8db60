#include "transport/inproc/sub_state.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "transport/inproc/spin.h"

namespace ferry::inproc::detail {

namespace {

constexpr std::string_view transport_name = "inproc";

thread_local const engine* tls_engine = nullptr;  // set while a callback runs
thread_local const sub_state* tls_sub = nullptr;  // the subscription whose callback runs

// The messages a worker took from a queue for its current turn, not yet handed to the callback
// (the front one is being handed over). Workers run one turn at a time, so one buffer per thread
// is enough (and keeps its capacity).
thread_local ring<message> taken;

}  // namespace

// The settler of one delivery: keeps a copy of the message for a redelivery. Pooled per
// subscription: once no copy of the delivered message is left, it serves a later delivery.
class delivery_settler final : public settler {
 public:
  void ack() override { owner_->settled(); }
  void term(std::string_view) override { owner_->settled(); }
  void nack(std::chrono::milliseconds delay) override { owner_->redeliver(std::move(m_), delay); }

  // Readies this settler for the delivery of `m` by `owner`.
  void start(std::shared_ptr<sub_state> owner, const message& m) {
    reset();
    owner_ = std::move(owner);
    m_ = m;  // reuses the buffers of the previous delivery
  }

  message m_;                             // the delivery's content, for a redelivery
  delivery_settler* pool_next = nullptr;  // in the pool's free stack

 private:
  void release() override {
    // `keep` may be the last reference to the subscription, which owns this settler: nothing
    // touches `this` after recycle() (another delivery may already use it).
    const std::shared_ptr<sub_state> keep = std::move(owner_);
    keep->recycle(this);
  }
  std::shared_ptr<sub_state> owner_;  // while a message refers to this delivery
};

sub_state::sub_state(std::shared_ptr<engine> eng, std::string pattern, subscription_options opts, delivery_callback cb)
    : eng_(std::move(eng)),
      pattern_(std::move(pattern)),
      opts_(std::move(opts)),
      cb_(std::move(cb)),
      capacity_(std::max<std::size_t>(eng_->opts.queue_capacity, 1)) {}

sub_state::~sub_state() = default;

bool sub_state::in_callback_of(const engine* eng) { return tls_engine == eng; }

bool sub_state::take_schedule_locked() {
  if (scheduled_ || stopped_ || queue_.empty()) return false;
  starved_.store(true, std::memory_order_seq_cst);
  if (in_flight_.load(std::memory_order_seq_cst) >= opts_.max_in_flight) return false;
  starved_.store(false, std::memory_order_relaxed);
  scheduled_ = true;
  return true;
}

bool sub_state::wait_for_room_locked(std::unique_lock<std::mutex>& lock, push_mode mode, status& why) {
  if (queue_.size() < capacity_ || stopped_ || mode == push_mode::over_bound) return true;
  if (mode == push_mode::try_only || eng_->opts.when_full == overflow::fail) {
    why = resource_exhausted("subscription '" + pattern_ + "' has a full queue");
    return false;
  }
  // What is queued must be on its way while we wait (push_many queues several before waiting).
  if (take_schedule_locked()) {
    lock.unlock();
    schedule();
    lock.lock();
  }
  ++space_waiters_;
  auto room = [&] { return stopped_ || queue_.size() < capacity_; };
  bool ok = true;
  if (eng_->opts.block_timeout.count() > 0) {
    ok = space_cv_.wait_for(lock, eng_->opts.block_timeout, room);
  } else {
    space_cv_.wait(lock, room);
  }
  --space_waiters_;
  if (!ok) why = resource_exhausted("subscription '" + pattern_ + "' stayed full");
  return ok;
}

status sub_state::push(message& m, push_mode mode) { return push_many(std::span<message>(&m, 1), mode); }

status sub_state::push_many(std::span<message> ms, push_mode mode) {
  status why;
  std::unique_lock lock = lock_spinning(mu_);
  std::size_t i = 0;
  while (i < ms.size()) {
    if (!wait_for_room_locked(lock, mode, why)) break;
    if (stopped_) break;  // nobody listens any more: dropped, like a NATS publish
    // As many as there is room for, without checking again for each.
    const std::size_t room = mode == push_mode::over_bound ? ms.size() - i : capacity_ - queue_.size();
    for (const std::size_t end = std::min(ms.size(), i + room); i < end; ++i) queue_.push_back(std::move(ms[i]));
  }
  queued_hint_.store(queue_.size(), std::memory_order_relaxed);
  const bool sched = take_schedule_locked();
  lock.unlock();
  if (sched) schedule();
  return why;
}

void sub_state::run(std::size_t budget) {
  do {
    std::size_t n = 0;
    {
      const std::unique_lock lock = lock_spinning(mu_);
      if (stopped_) break;
      const std::size_t used = in_flight_.load(std::memory_order_relaxed);
      const std::size_t room = used >= opts_.max_in_flight ? 0 : opts_.max_in_flight - used;
      if (queue_.size() <= room) {
        n = queue_.size();
        std::swap(taken, queue_);  // everything, in O(1): publishers wait as little as possible
      } else {
        n = std::min(budget, room);
        for (std::size_t i = 0; i < n; ++i) taken.push_back(queue_.pop_front());
      }
      queued_hint_.store(queue_.size(), std::memory_order_relaxed);
      in_flight_.fetch_add(n, std::memory_order_seq_cst);
      running_ = true;
      running_on_ = std::this_thread::get_id();
      if (space_waiters_ > 0) space_cv_.notify_all();
      if (idle_waiters_ > 0 && queue_.empty()) idle_cv_.notify_all();
    }
    while (!taken.empty() && !stop_flag_.load(std::memory_order_acquire)) {
      deliver(taken.front(), settlers_.take());
      taken.drop_front();
    }
    if (!taken.empty()) {
      in_flight_.fetch_sub(taken.size(), std::memory_order_seq_cst);
      taken.clear();
    }
  } while (linger());
  bool again = false;
  {
    const std::unique_lock lock = lock_spinning(mu_);
    running_ = false;
    scheduled_ = false;
    again = take_schedule_locked();
    if (idle_waiters_ > 0) idle_cv_.notify_all();
  }
  if (again) schedule();
}

// A publisher that keeps this subscription busy but is slower than its callback would otherwise
// end the turn after almost every message: the next publish then pays for schedule() and the
// worker for a trip through the pool, with the subscription's lock changing cores each time.
// Lingering keeps the turn (publishers see scheduled_ and only queue), and waits a little for a
// few messages to gather so that one lock hand-over moves several. Never while another
// subscription waits for a worker, or when no in-flight slot is free.
bool sub_state::linger() {
  constexpr auto linger_time = std::chrono::microseconds(20);
  constexpr std::size_t enough = 64;  // queued messages worth taking at once
  constexpr int gather_spins = 64;    // how long a smaller number may gather first
  if (stop_flag_.load(std::memory_order_relaxed) || eng_->pool->others_waiting() ||
      in_flight_.load(std::memory_order_seq_cst) >= opts_.max_in_flight)
    return false;  // nothing to wait for: a settlement will schedule the subscription again
  const auto until = std::chrono::steady_clock::now() + linger_time;
  for (int i = 1;; ++i) {
    const std::size_t queued = queued_hint_.load(std::memory_order_relaxed);
    if (queued >= enough || (queued > 0 && i >= gather_spins)) break;
    if (i % 64 == 0 && (std::chrono::steady_clock::now() >= until || eng_->pool->others_waiting() ||
                        stop_flag_.load(std::memory_order_relaxed))) {
      if (queued == 0) return false;
      break;
    }
    cpu_relax();
  }
  return in_flight_.load(std::memory_order_seq_cst) < opts_.max_in_flight;
}

void sub_state::recycle(delivery_settler* s) { settlers_.give_back(s); }

void sub_state::deliver(message& m, delivery_settler* s) {
  m.delivery.transport = transport_name;
  if (m.id.empty()) m.id = new_id();  // see inproc_transport::fill_in
  s->start(shared_from_this(), m);
  m.attach(s);
  const engine* prev_engine = tls_engine;
  const sub_state* prev_sub = tls_sub;
  tls_engine = eng_.get();
  tls_sub = this;
  cb_(std::move(m));
  tls_engine = prev_engine;
  tls_sub = prev_sub;
}

void sub_state::settled() {
  in_flight_.fetch_sub(1, std::memory_order_seq_cst);
  if (!starved_.load(std::memory_order_seq_cst)) return;
  bool sched = false;
  {
    std::lock_guard lock(mu_);
    sched = take_schedule_locked();
  }
  if (sched) schedule();
}

void sub_state::redeliver(message m, std::chrono::milliseconds delay) {
  m.attach(nullptr);
  m.delivery.delivery_count += 1;
  m.delivery.redelivered = true;
  if (delay.count() > 0) {
    eng_->timer->at(redelivery_timer::clock::now() + delay,
                    [self = shared_from_this(), m = std::move(m)]() mutable { self->push_front(std::move(m)); });
  } else {
    push_front(std::move(m));
  }
  settled();
}

void sub_state::push_front(message m) {
  bool sched = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    queue_.push_front(std::move(m));
    queued_hint_.store(queue_.size(), std::memory_order_relaxed);
    sched = take_schedule_locked();
  }
  if (sched) schedule();
}

void sub_state::stop() {
  ring<message> dropped;
  std::unique_lock lock(mu_);
  if (!stopped_) {
    stopped_ = true;
    stop_flag_.store(true, std::memory_order_release);
    std::swap(dropped, queue_);
    queued_hint_.store(0, std::memory_order_relaxed);
    space_cv_.notify_all();
    idle_cv_.notify_all();
  }
  if (running_ && running_on_ != std::this_thread::get_id()) {
    ++idle_waiters_;
    idle_cv_.wait(lock, [&] { return !running_; });
    --idle_waiters_;
  }
  lock.unlock();
  dropped.clear();  // outside the lock
}

bool sub_state::wait_drained(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  // From this subscription's callback: what it took for this turn besides the running message
  // waits behind the caller too.
  if (running_ && running_on_ == std::this_thread::get_id()) return stopped_ || (queue_.empty() && taken.size() <= 1);
  ++idle_waiters_;
  const bool ok = idle_cv_.wait_until(lock, deadline, [&] { return stopped_ || (queue_.empty() && !running_); });
  --idle_waiters_;
  return ok;
}

}  // namespace ferry::inproc::detail
