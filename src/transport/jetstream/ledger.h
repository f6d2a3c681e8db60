// ledger: what a JetStream subscription owes its stream, so that a consumer made again (the
// server lost it) starts where nothing is lost. Thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

namespace ferry::jetstream::detail {

// What a subscription owes its stream: the sequences delivered and not yet acked or termed (a
// nacked one is owed still: the server delivers it again), and those settled above the lowest
// owed one. A consumer made again (the server lost it) starts at the lowest owed sequence, not
// after the last one delivered (which lost every message then in a handler or waiting out a nack
// delay: their settlements went to the consumer that was gone), and what it delivers again that
// was settled meanwhile is acked at once instead of handled twice. Until such a consumer has
// delivered past the last sequence delivered before it (its replay), nothing settled is forgotten.
//
// Bounded: a sequence the server stops delivering while it is owed (a nack at max_deliver, a
// message removed by the stream's limits) would keep every later settlement; past `max_ranges`
// ranges (one per gap between settled sequences: owed ones, and sequences of the stream this
// subscription never sees, of other subjects or other members of a group) the lowest owed
// sequence is given up, as if settled.
class ledger {
 public:
  explicit ledger(std::size_t max_ranges = 65'536) : max_ranges_(max_ranges) {}

  // A delivery of `seq`: false when it was settled already (ack it again, do not deliver it).
  bool delivered(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    if (is_settled(seq)) return false;
    if (replaying_to_ != 0 && seq > replaying_to_) {
      replaying_to_ = 0;  // the consumer made again has caught up
      prune();
    }
    owed_.insert(seq);
    return true;
  }
  void settled(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    owed_.erase(seq);
    add_settled(seq);
    prune();
  }
  // Where a consumer made again starts: the lowest owed sequence, else the one after `last` (the
  // last sequence delivered).
  std::uint64_t restart_at(std::uint64_t last) {
    std::lock_guard lock(mu_);
    if (owed_.empty()) return last + 1;
    replaying_to_ = std::max(replaying_to_, last);
    return *owed_.begin();
  }
  // A sequence the server will not deliver again (nacked at max_deliver): no longer owed.
  void given_up(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    owed_.erase(seq);
    prune();
  }
  // restart_at(last) without starting a replay.
  [[nodiscard]] std::uint64_t lowest_owed_or_after(std::uint64_t last) {
    std::lock_guard lock(mu_);
    return owed_.empty() ? last + 1 : *owed_.begin();
  }
  [[nodiscard]] std::size_t ranges() {
    std::lock_guard lock(mu_);
    return settled_.size();
  }

 private:
  // Forgets what no consumer can deliver again: below the lowest owed sequence, or everything
  // when nothing is owed (a consumer made again starts after the last delivery), unless a
  // consumer made again is still replaying.
  void prune() {
    if (settled_.size() > max_ranges_) replaying_to_ = 0;  // bounded before exact
    while (settled_.size() > max_ranges_ && !owed_.empty()) {
      owed_.erase(owed_.begin());  // given up (not settled: if it comes, it is delivered)
      trim_below_floor();
    }
    if (replaying_to_ != 0) return;
    trim_below_floor();
  }
  void trim_below_floor() {
    if (owed_.empty()) {
      settled_.clear();
      return;
    }
    const std::uint64_t floor = *owed_.begin();
    while (!settled_.empty() && settled_.begin()->second < floor) settled_.erase(settled_.begin());
    if (!settled_.empty() && settled_.begin()->first < floor) {
      const std::uint64_t last = settled_.begin()->second;
      settled_.erase(settled_.begin());
      settled_.emplace(floor, last);
    }
  }
  bool is_settled(std::uint64_t seq) const {
    auto it = settled_.upper_bound(seq);
    return it != settled_.begin() && std::prev(it)->second >= seq;
  }
  void add_settled(std::uint64_t seq) {
    auto next = settled_.upper_bound(seq);  // the first range starting after seq
    if (next != settled_.begin()) {
      auto prev = std::prev(next);
      if (prev->second >= seq) return;
      if (prev->second + 1 == seq) {
        prev->second = seq;
        if (next != settled_.end() && next->first == seq + 1) {
          prev->second = next->second;
          settled_.erase(next);
        }
        return;
      }
    }
    if (next != settled_.end() && next->first == seq + 1) {
      const std::uint64_t last = next->second;
      settled_.erase(next);
      settled_.emplace(seq, last);
      return;
    }
    settled_.emplace(seq, seq);
  }

  const std::size_t max_ranges_;
  std::mutex mu_;
  std::set<std::uint64_t> owed_;
  // Settled sequences above the lowest owed one, as ranges (first -> last).
  std::map<std::uint64_t, std::uint64_t> settled_;
  std::uint64_t replaying_to_ = 0;  // a consumer made again delivers up to here again (0: none)
};

}  // namespace ferry::jetstream::detail
