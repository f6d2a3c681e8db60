#include "sdk/work_queue.h"

#include "ferry/check.h"

namespace ferry::detail {

work_queue::work_queue(std::size_t capacity, bool per_key) : capacity_(capacity), per_key_(per_key) {
  FERRY_CHECK(capacity > 0);
}

work_queue::~work_queue() = default;

std::string_view work_queue::key_of(const message& m) {
  if (!m.key.empty()) return m.key;
  return m.headers.get(header::key).value_or(std::string_view());
}

bool work_queue::push(message& m) {
  std::unique_lock lock(mu_);
  not_full_.wait(lock, [&] { return closed_ || queued_ < capacity_; });
  if (closed_) return false;
  const std::uint64_t arrival = arrivals_++;
  ++queued_;
  const std::string_view key = per_key_ ? key_of(m) : std::string_view();
  if (key.empty()) {
    free_.emplace_back(arrival, std::move(m));
  } else {
    auto [it, inserted] = lanes_.try_emplace(std::string(key));
    if (inserted) {
      it->second = std::make_unique<lane>();
      it->second->key = it->first;
    }
    lane* l = it->second.get();
    l->pending.emplace_back(arrival, std::move(m));
    // A lane is in ready_ exactly when it is not busy and has a message waiting.
    if (!l->busy && l->pending.size() == 1) ready_.push_back(l);
  }
  lock.unlock();
  not_empty_.notify_one();
  return true;
}

bool work_queue::has_ready() const { return !free_.empty() || !ready_.empty(); }

std::optional<work_queue::item> work_queue::pop() {
  std::unique_lock lock(mu_);
  not_empty_.wait(lock, [&] { return closed_ || has_ready(); });
  if (closed_) return std::nullopt;
  item it;
  const bool from_lane =
      !ready_.empty() && (free_.empty() || ready_.front()->pending.front().first < free_.front().first);
  if (from_lane) {
    lane* l = ready_.front();
    ready_.pop_front();
    it.msg = std::move(l->pending.front().second);
    l->pending.pop_front();
    l->busy = true;
    it.from = l;
  } else {
    it.msg = std::move(free_.front().second);
    free_.pop_front();
  }
  --queued_;
  ++running_;
  // A producer blocked on a full queue is woken once half of it has drained, not after every pop:
  // it then queues a run of messages per wake-up instead of paying a wake-up per message.
  const bool wake_producers = queued_ <= capacity_ / 2;
  lock.unlock();
  if (wake_producers) not_full_.notify_all();
  return it;
}

void work_queue::done(const item& it) {
  bool wake_worker = false;
  {
    std::lock_guard lock(mu_);
    if (lane* l = it.from) {
      l->busy = false;
      if (l->pending.empty()) {
        lanes_.erase(l->key);
      } else {
        ready_.push_back(l);
        wake_worker = true;
      }
    }
    --running_;
  }
  if (wake_worker) not_empty_.notify_one();
  idle_.notify_all();
}

void work_queue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

std::vector<message> work_queue::drain() {
  std::vector<message> out;
  std::lock_guard lock(mu_);
  for (auto& [n, m] : free_) out.push_back(std::move(m));
  free_.clear();
  for (auto it = lanes_.begin(); it != lanes_.end();) {
    for (auto& [n, m] : it->second->pending) out.push_back(std::move(m));
    it->second->pending.clear();
    // A busy lane stays until its running message is done().
    it = it->second->busy ? std::next(it) : lanes_.erase(it);
  }
  ready_.clear();
  queued_ = 0;
  return out;
}

bool work_queue::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_.wait_until(lock, deadline, [&] { return running_ == 0; });
}

std::size_t work_queue::queued() const {
  std::lock_guard lock(mu_);
  return queued_;
}

std::size_t work_queue::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

}  // namespace ferry::detail
