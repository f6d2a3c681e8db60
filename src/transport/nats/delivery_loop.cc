#include "transport/nats/delivery_loop.h"

#include <algorithm>

namespace ferry::nats::detail {

// The waiter sets waiting_ under the lock and then reads used_; a releaser decrements used_ and
// then reads waiting_ (all sequentially consistent). Either the waiter sees the free slot, or the
// releaser sees waiting_ and takes the lock, which the waiter holds until it sleeps: no lost wake-up.
std::size_t in_flight_gate::wait_room(std::chrono::milliseconds wait) {
  auto room = [&] { return closed_.load() || used_.load() < max_; };
  if (!room()) {
    std::unique_lock lock(mu_);
    waiting_.store(true);
    cv_.wait_for(lock, wait, room);
    waiting_.store(false);
  }
  const std::size_t used = used_.load();
  return closed_.load() || used >= max_ ? 0 : max_ - used;
}

void in_flight_gate::take(std::size_t n) { used_.fetch_add(n); }

void in_flight_gate::release() {
  std::size_t used = used_.load();
  do {
    if (used == 0) return;
  } while (!used_.compare_exchange_weak(used, used - 1));
  if (waiting_.load()) {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
}

void in_flight_gate::close() {
  closed_.store(true);
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

delivery_loop::delivery_loop(std::string subject, std::unique_ptr<source> src, delivery_callback cb,
                             std::size_t max_in_flight, std::size_t max_batch, std::chrono::milliseconds poll)
    : subject_(std::move(subject)),
      src_(std::move(src)),
      cb_(std::move(cb)),
      gate_(std::make_shared<in_flight_gate>(std::max<std::size_t>(max_in_flight, 1))),
      max_batch_(std::max<std::size_t>(max_batch, 1)),
      poll_(poll) {}

delivery_loop::~delivery_loop() { stop(); }

void delivery_loop::start() {
  // The thread holds the loop: a loop stopped from its own callback is detached and lives on
  // until the thread returns.
  thread_.start(shared_from_this(), &delivery_loop::run);
}

void delivery_loop::stop() {
  stopping_.store(true);
  gate_->close();
  src_->interrupt();
  thread_.join();  // every caller waits for the thread's end, except the thread itself
}

void delivery_loop::run() {
  std::vector<message> batch;
  while (!stopping_.load()) {
    const std::size_t room = gate_->wait_room(poll_);
    if (room == 0) continue;
    batch.clear();
    if (!src_->next(std::min(room, max_batch_), poll_, gate_, batch)) {
      if (stopping_.load()) break;
      std::this_thread::sleep_for(poll_ / 5);  // a broken subscription: do not spin
      continue;
    }
    gate_->take(batch.size());
    std::size_t i = 0;
    for (; i < batch.size() && !stopping_.load(); ++i) cb_(std::move(batch[i]));
    for (; i < batch.size(); ++i) batch[i].nack();  // taken but never handed over: give them back
  }
}

bool loop_registry::add(const std::shared_ptr<delivery_loop>& l) {
  std::lock_guard lock(mu_);
  if (stopped_) return false;
  std::erase_if(loops_, [](const auto& w) { return w.expired(); });
  loops_.push_back(l);
  return true;
}

void loop_registry::stop_all() {
  std::vector<std::weak_ptr<delivery_loop>> loops;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    loops.swap(loops_);
  }
  for (auto& w : loops) {
    if (auto l = w.lock()) l->stop();
  }
}

}  // namespace ferry::nats::detail
