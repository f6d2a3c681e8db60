#include "transport/kafka/partition_window.h"

#include <algorithm>
#include <utility>

namespace ferry::kafka::detail {

std::optional<partition_window::delivery> partition_window::fetched(std::int64_t offset, std::string_view key) {
  // The log still owes a seek back to rewind_: what it brings from there on comes again after it.
  if (rewind_ && offset >= *rewind_) return std::nullopt;
  if (settled_to_ && offset < *settled_to_) return std::nullopt;
  if (!settled_to_) settled_to_ = offset;  // where this window starts: the group's position
  auto [it, inserted] = entries_.try_emplace(offset);
  entry& e = it->second;
  if (!inserted && e.st == state::done) return std::nullopt;
  if (!inserted && e.st == state::pending) unpend(e);  // replaced by this delivery
  ++unsettled_;
  e.key = key;
  if (!e.key.empty()) ++busy_[e.key];
  e.st = state::pending;
  e.serial = next_serial_++;
  ++e.count;
  return delivery{e.serial, e.count};
}

bool partition_window::hold(std::int64_t offset) {
  if (rewind_ && offset >= *rewind_) return false;
  if (settled_to_ && offset < *settled_to_) return false;
  if (!settled_to_) settled_to_ = offset;
  auto [it, inserted] = entries_.try_emplace(offset);
  entry& e = it->second;
  if (!inserted && e.st == state::done) return false;
  if (!inserted && e.st == state::pending) unpend(e);
  e.st = state::held;
  return true;
}

bool partition_window::settle(std::int64_t offset, std::uint64_t serial) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || it->second.st != state::pending || it->second.serial != serial) return false;
  unpend(it->second);
  it->second.st = state::done;
  trim();
  return true;
}

bool partition_window::busy(std::string_view key) const {
  auto it = busy_.find(key);
  return it != busy_.end() && it->second > 0;
}

void partition_window::unpend(entry& e) {
  --unsettled_;
  if (e.key.empty()) return;
  auto it = busy_.find(e.key);
  if (--it->second == 0) busy_.erase(it);
}

bool partition_window::rewind(std::int64_t offset, std::uint64_t serial) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || it->second.st != state::pending || it->second.serial != serial) return false;
  supersede_from(offset);
  return true;
}

void partition_window::rewind_to(std::int64_t offset) { supersede_from(offset); }

void partition_window::supersede_from(std::int64_t offset) {
  for (auto it = entries_.lower_bound(offset); it != entries_.end(); ++it) {
    if (it->second.st != state::pending) continue;
    unpend(it->second);
    it->second.st = state::rewound;
  }
  rewind_ = rewind_ ? std::min(*rewind_, offset) : offset;
}

std::optional<std::int64_t> partition_window::take_rewind() { return std::exchange(rewind_, std::nullopt); }

std::optional<std::int64_t> partition_window::commit_position() const {
  if (!settled_to_ || settled_to_ == committed_) return std::nullopt;
  return settled_to_;
}

void partition_window::trim() {
  while (!entries_.empty() && entries_.begin()->second.st == state::done) {
    settled_to_ = entries_.begin()->first + 1;
    entries_.erase(entries_.begin());
  }
}

}  // namespace ferry::kafka::detail
