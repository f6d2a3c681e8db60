#include "transport/inproc/worker_pool.h"

#include <chrono>

#include "transport/inproc/spin.h"

namespace ferry::inproc::detail {

namespace {
// How long an idle worker polls for work before it sleeps: a publisher that keeps a worker busy
// then never pays for a wake-up (a futex call costs as much as a few hundred deliveries).
constexpr auto spin_time = std::chrono::microseconds(50);
}  // namespace

std::shared_ptr<worker_pool> worker_pool::start(std::size_t threads, std::size_t budget) {
  std::shared_ptr<worker_pool> p(new worker_pool(budget == 0 ? 1 : budget));
  if (threads == 0) threads = 1;
  p->threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    // Each worker holds the pool, so a worker detached by stop() never outlives it.
    p->threads_.emplace_back([self = p] { self->loop(); });
  }
  return p;
}

worker_pool::~worker_pool() = default;  // stop() ran: every thread was joined or detached

void worker_pool::schedule(std::shared_ptr<runnable> r) {
  std::unique_lock lock = lock_spinning(mu_);
  if (stopping_) return;
  ready_.push_back(std::move(r));
  queued_.fetch_add(1, std::memory_order_release);
  const bool wake = sleepers_ > 0;
  lock.unlock();
  if (wake) cv_.notify_one();
}

void worker_pool::stop() {
  std::call_once(stopped_, [this] {
    std::deque<std::shared_ptr<runnable>> dropped;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      dropped.swap(ready_);
      queued_.store(0, std::memory_order_relaxed);
    }
    cv_.notify_all();
    dropped.clear();  // outside the lock: a runnable's destructor may do anything
    const auto self = std::this_thread::get_id();
    for (std::thread& t : threads_) {
      if (t.get_id() == self) {
        t.detach();
      } else {
        t.join();
      }
    }
  });
}

void worker_pool::loop() {
  std::shared_ptr<runnable> next;
  for (;;) {
    const auto spin_until = std::chrono::steady_clock::now() + spin_time;
    std::unique_lock lock = lock_spinning(mu_);
    while (ready_.empty() && !stopping_) {
      lock.unlock();
      bool found = false;
      for (int i = 0; !found; ++i) {
        if (queued_.load(std::memory_order_acquire) != 0) found = true;
        if ((i & 63) == 63 && std::chrono::steady_clock::now() >= spin_until) break;
        cpu_relax();
      }
      lock.lock();
      if (found || !ready_.empty() || stopping_) continue;
      ++sleepers_;
      cv_.wait(lock, [&] { return !ready_.empty() || stopping_; });
      --sleepers_;
    }
    if (stopping_) return;
    next = std::move(ready_.front());
    ready_.pop_front();
    queued_.fetch_sub(1, std::memory_order_relaxed);
    lock.unlock();
    next->run(budget_);
    next.reset();  // outside the lock
  }
}

}  // namespace ferry::inproc::detail
