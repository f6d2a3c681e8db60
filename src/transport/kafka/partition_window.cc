#include "transport/kafka/partition_window.h"

#include <algorithm>
#include <utility>

namespace ferry::kafka::detail {
std::uint64_t partition_window::key_hash(std::string_view key) {
  if (key.empty()) return 0;
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a: keys are short, and a collision only costs parallelism
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  return h == 0 ? 1 : h;
}

partition_window::entry& partition_window::at(std::int64_t offset) {
  if (!base_) base_ = offset;  // where this window starts: the group's position
  if (entries_.empty() || offset > entries_.back().offset) return entries_.emplace_back(entry{.offset = offset});
  if (entry* e = find(offset)) return *e;
  return *entries_.insert(from(offset), entry{.offset = offset});  // the log has it after all
}

std::deque<partition_window::entry>::iterator partition_window::from(std::int64_t offset) {
  return std::lower_bound(entries_.begin(), entries_.end(), offset,
                          [](const entry& e, std::int64_t o) { return e.offset < o; });
}

partition_window::entry* partition_window::find(std::int64_t offset) {
  if (entries_.empty() || offset < entries_.front().offset || offset > entries_.back().offset) return nullptr;
  if (const auto i = static_cast<std::size_t>(offset - entries_.front().offset);
      i < entries_.size() && entries_[i].offset == offset) {
    return &entries_[i];
  }
  auto it = from(offset);
  return it != entries_.end() && it->offset == offset ? &*it : nullptr;
}

std::optional<partition_window::delivery> partition_window::fetched(std::int64_t offset, std::uint64_t key) {
  // The log still owes a seek back to rewind_: what it brings from there on comes again after it.
  if (rewind_ && offset >= *rewind_) return std::nullopt;
  if (base_ && offset < *base_) return std::nullopt;
  entry& e = at(offset);
  if (e.st == state::done) return std::nullopt;
  if (e.st == state::pending) unpend(e);  // replaced by this delivery
  ++unsettled_;
  e.key = key;
  if (key != 0) ++busy_[key];
  e.st = state::pending;
  e.serial = next_serial_++;
  const bool redelivered = e.count > 0;  // the first delivery always counts
  if (!std::exchange(e.again, false)) ++e.count;
  return delivery{e.serial, e.count, redelivered};
}

bool partition_window::busy(std::uint64_t key) const {
  if (unsettled_ == 0 || key == 0) return false;  // the common case with handlers that settle at once
  auto it = busy_.find(key);
  return it != busy_.end() && it->second > 0;
}

bool partition_window::hold(std::int64_t offset) {
  if (rewind_ && offset >= *rewind_) return false;
  if (base_ && offset < *base_) return false;
  entry& e = at(offset);
  if (e.st == state::done) return false;
  if (e.st == state::pending) unpend(e);
  e.st = state::held;
  return true;
}

bool partition_window::settle(std::int64_t offset, std::uint64_t serial) {
  entry* e = find(offset);
  if (e == nullptr || e->st != state::pending || e->serial != serial) return false;
  unpend(*e);
  e->st = state::done;
  trim();
  return true;
}

void partition_window::unpend(entry& e) {
  --unsettled_;
  if (e.key == 0) return;
  auto it = busy_.find(e.key);
  // Keys recur: a free key keeps its node (no allocation per message) until there are many.
  if (--it->second == 0 && busy_.size() > 4096) busy_.erase(it);
}

bool partition_window::rewind(std::int64_t offset, std::uint64_t serial) {
  entry* e = find(offset);
  if (e == nullptr || e->st != state::pending || e->serial != serial) return false;
  supersede_from(offset, offset);
  return true;
}

void partition_window::rewind_to(std::int64_t offset) { supersede_from(offset, std::nullopt); }

void partition_window::supersede_from(std::int64_t offset, std::optional<std::int64_t> nacked) {
  for (auto it = from(offset); it != entries_.end(); ++it) {
    if (it->st != state::pending) continue;
    unpend(*it);
    it->st = state::rewound;
    it->again = it->offset != nacked;
  }
  rewind_ = rewind_ ? std::min(*rewind_, offset) : offset;
}

std::optional<std::int64_t> partition_window::take_rewind() { return std::exchange(rewind_, std::nullopt); }

std::optional<std::int64_t> partition_window::commit_position() const {
  if (!base_ || base_ == committed_) return std::nullopt;
  return base_;
}

void partition_window::trim() {
  while (!entries_.empty() && entries_.front().st == state::done) {
    base_ = entries_.front().offset + 1;
    entries_.pop_front();
  }
  // Offsets the log lacks between the last settled one and the next kept one count as settled.
  if (!entries_.empty()) base_ = entries_.front().offset;
}

}  // namespace ferry::kafka::detail
