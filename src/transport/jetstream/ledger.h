// ledger: what a JetStream subscription owes its stream, so that a consumer made again (the
// server lost it) starts where nothing is lost. Thread-safe.
#pragma once

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
// was settled meanwhile is acked at once instead of handled twice.
class ledger {
 public:
  // A delivery of `seq`: false when it was settled already (ack it again, do not deliver it).
  bool delivered(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    if (is_settled(seq)) return false;
    owed_.insert(seq);
    return true;
  }
  void settled(std::uint64_t seq) {
    std::lock_guard lock(mu_);
    owed_.erase(seq);
    if (owed_.empty()) {
      settled_.clear();  // a consumer made again starts after the last delivery
      return;
    }
    add_settled(seq);
    // Below the lowest owed sequence nothing is delivered again.
    const std::uint64_t floor = *owed_.begin();
    while (!settled_.empty() && settled_.begin()->second < floor) settled_.erase(settled_.begin());
    if (!settled_.empty() && settled_.begin()->first < floor) {
      const std::uint64_t last = settled_.begin()->second;
      settled_.erase(settled_.begin());
      settled_.emplace(floor, last);
    }
  }
  // Where a consumer made again starts: the lowest owed sequence, else the one after `last`.
  std::uint64_t restart_at(std::uint64_t last) {
    std::lock_guard lock(mu_);
    return owed_.empty() ? last + 1 : *owed_.begin();
  }

 private:
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

  std::mutex mu_;
  std::set<std::uint64_t> owed_;
  // Settled sequences above the lowest owed one, as ranges (first -> last): as many as there are
  // gaps of owed sequences, however many were settled.
  std::map<std::uint64_t, std::uint64_t> settled_;
};

}  // namespace ferry::jetstream::detail
