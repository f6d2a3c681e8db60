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
  const auto i = static_cast<std::size_t>(offset - *base_);
  if (i >= entries_.size()) entries_.resize(i + 1);
  return entries_[i];
}

partition_window::entry* partition_window::find(std::int64_t offset) {
  if (!base_ || offset < *base_) return nullptr;
  const auto i = static_cast<std::size_t>(offset - *base_);
  return i < entries_.size() ? &entries_[i] : nullptr;
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
  ++e.count;
  return delivery{e.serial, e.count};
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
  supersede_from(offset);
  return true;
}

void partition_window::rewind_to(std::int64_t offset) { supersede_from(offset); }

void partition_window::supersede_from(std::int64_t offset) {
  if (base_) {
    for (auto i = static_cast<std::size_t>(std::max<std::int64_t>(offset - *base_, 0)); i < entries_.size(); ++i) {
      entry& e = entries_[i];
      if (e.st != state::pending) continue;
      unpend(e);
      e.st = state::rewound;
    }
  }
  rewind_ = rewind_ ? std::min(*rewind_, offset) : offset;
}

std::optional<std::int64_t> partition_window::take_rewind() { return std::exchange(rewind_, std::nullopt); }

std::optional<std::int64_t> partition_window::commit_position() const {
  if (!base_ || base_ == committed_) return std::nullopt;
  return base_;
}

void partition_window::trim() {
  while (!entries_.empty() && (entries_.front().st == state::done || entries_.front().st == state::none)) {
    entries_.pop_front();
    ++*base_;
  }
}

}  // namespace ferry::kafka::detail
