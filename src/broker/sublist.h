// sublist: the subject index. Maps a literal subject to the subscriptions whose subject
// matches it, with `*` and `>` wildcards and queue groups, like nats-server's sublist.go.
//
// Thread-safety: insert/remove take a write lock; match takes a read lock. Callers on the hot
// path use a per-thread match_cache (below), which is invalidated by a generation counter that
// every insert and remove bumps, so a cached result is never stale once the change returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "base/string_hash.h"
#include "broker/subscription.h"

namespace ferry::broker {

// The subscriptions matching one subject. Plain subscriptions all get a copy; each queue
// group (merged by name across wildcard levels) gets one copy, delivered to one member.
struct match_result {
  std::vector<subscription_ptr> plain;
  struct group {
    std::string name;
    std::vector<subscription_ptr> members;
  };
  std::vector<group> queues;
  [[nodiscard]] bool empty() const { return plain.empty() && queues.empty(); }
};
using match_ptr = std::shared_ptr<const match_result>;

struct sublist_stats {
  std::uint64_t subscriptions = 0;
  std::uint64_t inserts = 0;
  std::uint64_t removes = 0;
  std::uint64_t matches = 0;     // lookups that reached the trie (cache misses)
  std::uint64_t max_fanout = 0;  // most subscriptions one match returned
  double avg_fanout = 0;
};

class sublist {
 public:
  sublist();
  ~sublist();
  sublist(const sublist&) = delete;
  sublist& operator=(const sublist&) = delete;

  // Adds `s`. Fails with invalid_argument if its subject is not a valid subject.
  status insert(const subscription_ptr& s);
  // Removes `s` (by identity). Returns false if it was not present.
  bool remove(const subscription_ptr& s);
  // Every subscription matching literal `subject`. An invalid subject matches nothing.
  [[nodiscard]] match_ptr match(std::string_view subject) const;
  // The same into `out` (cleared first, its capacity kept): no allocation once warm.
  void match_into(std::string_view subject, match_result& out) const;

  // Bumped by every insert and remove.
  [[nodiscard]] std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  [[nodiscard]] sublist_stats stats() const;
  // Calls f(sub) for every subscription, under the read lock (monitoring only).
  template <class F>
  void for_each(F&& f) const;

 private:
  struct node;
  struct level;
  void collect(const level* l, const std::vector<std::string_view>& toks, std::size_t i, match_result& out) const;
  static void add_node(const node* n, match_result& out);
  template <class F>
  static void visit(const level* l, F& f);

  mutable std::shared_mutex mu_;
  std::unique_ptr<level> root_;  // guarded by mu_
  std::uint64_t count_ = 0;      // guarded by mu_
  std::atomic<std::uint64_t> generation_{1};
  std::atomic<std::uint64_t> inserts_{0};
  std::atomic<std::uint64_t> removes_{0};
  mutable std::atomic<std::uint64_t> matches_{0};
  mutable std::atomic<std::uint64_t> fanout_sum_{0};
  mutable std::atomic<std::uint64_t> fanout_max_{0};
};

struct sublist::node {
  std::unique_ptr<level> next;
  std::vector<subscription_ptr> plain;
  std::vector<match_result::group> queues;
  [[nodiscard]] bool empty() const;
};

struct sublist::level {
  string_map<std::unique_ptr<node>> literal;
  std::unique_ptr<node> pwc;  // '*'
  std::unique_ptr<node> fwc;  // '>'
  [[nodiscard]] bool empty() const { return literal.empty() && !pwc && !fwc; }
};

template <class F>
void sublist::visit(const level* l, F& f) {
  if (l == nullptr) return;
  auto each = [&](const node* n) {
    if (n == nullptr) return;
    for (const auto& s : n->plain) f(s);
    for (const auto& g : n->queues)
      for (const auto& s : g.members) f(s);
    visit(n->next.get(), f);
  };
  for (const auto& [_, n] : l->literal) each(n.get());
  each(l->pwc.get());
  each(l->fwc.get());
}

template <class F>
void sublist::for_each(F&& f) const {
  std::shared_lock lock(mu_);
  visit(root_.get(), f);
}

// A per-thread cache of match results. Not thread-safe: one per worker thread.
class match_cache {
 public:
  explicit match_cache(const sublist& sl, std::size_t max_entries = 4096) : sl_(sl), max_(max_entries) {}
  // The match for `subject`; the reference stays valid until the next call on this cache.
  // Subjects that are new on every message (JetStream acks, `$JS.ACK.`, and replies, `_INBOX.`)
  // are matched without being stored: they would only push the repeated subjects out.
  const match_result& match(std::string_view subject);
  // True for the subjects match() does not store.
  static bool one_off(std::string_view subject) {
    return subject.starts_with("$JS.ACK.") || subject.starts_with("_INBOX.");
  }
  // Counters for monitoring; safe to read from any thread.
  [[nodiscard]] std::uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t size() const { return size_.load(std::memory_order_relaxed); }
  void clear() {
    map_.clear();
    last_ = nullptr;
    last_gen_ = 0;
    size_.store(0, std::memory_order_relaxed);
  }

 private:
  const sublist& sl_;
  std::size_t max_;
  std::uint64_t gen_ = 0;
  string_map<match_ptr> map_;
  match_result one_off_;  // the last one-off subject's match, kept until the next one
  // Publishers usually repeat a subject: the last one is checked before hashing. last_ points
  // into map_, valid while last_gen_ is the current generation (map_ is only cleared when the
  // generation changes, or on a miss that then makes the new entry the last one).
  const match_result* last_ = nullptr;
  std::string last_subject_;
  std::uint64_t last_gen_ = 0;
  // Written only by the owning thread; atomics so that monitoring may read them.
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::size_t> size_{0};
};

}  // namespace ferry::broker
