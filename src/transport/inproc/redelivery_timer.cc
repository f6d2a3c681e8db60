#include "transport/inproc/redelivery_timer.h"

#include <utility>
#include <vector>

namespace ferry::inproc::detail {

redelivery_timer::redelivery_timer() : thread_([this] { loop(); }) {}

redelivery_timer::~redelivery_timer() { stop(); }

void redelivery_timer::at(clock::time_point due, std::function<void()> fn) {
  std::unique_lock lock(mu_);
  if (stopping_) return;
  const bool earliest = due_.empty() || due < due_.begin()->first;
  due_.emplace(due, std::move(fn));
  lock.unlock();
  if (earliest) cv_.notify_one();
}

void redelivery_timer::stop() {
  decltype(due_) dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(due_);
  }
  cv_.notify_all();
  dropped.clear();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void redelivery_timer::loop() {
  std::vector<std::function<void()>> ready;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto first = due_.begin()->first;
    if (clock::now() < first) {
      cv_.wait_until(lock, first);
      continue;
    }
    const auto now = clock::now();
    while (!due_.empty() && due_.begin()->first <= now) {
      ready.push_back(std::move(due_.begin()->second));
      due_.erase(due_.begin());
    }
    lock.unlock();
    for (auto& fn : ready) fn();
    ready.clear();
    lock.lock();
  }
}

}  // namespace ferry::inproc::detail
