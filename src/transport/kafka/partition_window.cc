#include "transport/kafka/partition_window.h"

#include <algorithm>
#include <utility>

namespace ferry::kafka::detail {

std::optional<partition_window::delivery> partition_window::fetched(std::int64_t offset) {
  // The log still owes a seek back to rewind_: what it brings from there on comes again after it.
  if (rewind_ && offset >= *rewind_) return std::nullopt;
  if (settled_to_ && offset < *settled_to_) return std::nullopt;
  if (!settled_to_) settled_to_ = offset;  // where this window starts: the group's position
  auto [it, inserted] = entries_.try_emplace(offset);
  entry& e = it->second;
  if (!inserted && e.st == state::done) return std::nullopt;
  if (inserted || e.st == state::rewound) ++unsettled_;
  e.st = state::pending;
  e.serial = next_serial_++;
  ++e.count;
  return delivery{e.serial, e.count};
}

bool partition_window::settle(std::int64_t offset, std::uint64_t serial) {
  auto it = entries_.find(offset);
  if (it == entries_.end() || it->second.st != state::pending || it->second.serial != serial) return false;
  it->second.st = state::done;
  --unsettled_;
  trim();
  return true;
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
    it->second.st = state::rewound;
    --unsettled_;
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
