#include "ferry/message.h"

#include <algorithm>
#include <array>
#include <random>

namespace ferry {

std::optional<std::string_view> header_map::get(std::string_view name) const {
  for (const entry& e : entries_)
    if (e.first == name) return std::string_view(e.second);
  return std::nullopt;
}

std::string header_map::value_or(std::string_view name, std::string_view fallback) const {
  auto v = get(name);
  return std::string(v ? *v : fallback);
}

std::vector<std::string_view> header_map::all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const entry& e : entries_)
    if (e.first == name) out.emplace_back(e.second);
  return out;
}

header_map& header_map::set(std::string name, std::string value) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.first == name; });
  if (it == entries_.end()) {
    entries_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  it->second = std::move(value);
  // Drop any further values of the same name.
  entries_.erase(std::remove_if(it + 1, entries_.end(), [&](const entry& e) { return e.first == it->first; }),
                 entries_.end());
  return *this;
}

header_map& header_map::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::size_t header_map::erase(std::string_view name) {
  const std::size_t before = entries_.size();
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.first == name; }),
                 entries_.end());
  return before - entries_.size();
}

std::string_view to_string(settlement s) {
  switch (s) {
    case settlement::pending:
      return "pending";
    case settlement::acked:
      return "acked";
    case settlement::nacked:
      return "nacked";
    case settlement::terminated:
      return "terminated";
  }
  return "unknown";
}

void settler::reset() {
  state_.store(settlement::pending, std::memory_order_relaxed);
  has_hooks_.store(false, std::memory_order_relaxed);
  hooks_.clear();
}

// Sequentially consistent: it pairs with on_settled() (see run_hooks).
bool message::settle_as(settlement to) {
  if (settle_.get() == nullptr) return false;
  settlement expected = settlement::pending;
  return settle_->state_.compare_exchange_strong(expected, to, std::memory_order_seq_cst);
}

bool message::ack() {
  if (!settle_as(settlement::acked)) return false;
  settle_->ack();
  run_hooks(settlement::acked);
  return true;
}

bool message::nack(std::chrono::milliseconds delay) {
  if (!settle_as(settlement::nacked)) return false;
  settle_->nack(delay);
  run_hooks(settlement::nacked);
  return true;
}

bool message::term(std::string_view reason) {
  if (!settle_as(settlement::terminated)) return false;
  settle_->term(reason);
  run_hooks(settlement::terminated);
  return true;
}

// The settling thread writes the state then reads `has_hooks_`; on_settled() writes `has_hooks_`
// then reads the state (all sequentially consistent). So either the settler sees has_hooks_ and
// takes the lock (and with it any hook added while the state read pending), or on_settled() sees
// the new state and runs its hook itself. Messages without hooks settle without touching the lock.
void message::run_hooks(settlement s) {
  if (!settle_->has_hooks_.load(std::memory_order_seq_cst)) return;
  std::vector<std::function<void(settlement)>> hooks;
  {
    std::lock_guard lock(settle_->hooks_mu_);
    hooks.swap(settle_->hooks_);
  }
  for (auto& f : hooks) f(s);
}

void message::on_settled(std::function<void(settlement)> f) {
  if (settle_.get() == nullptr) return;
  {
    std::lock_guard lock(settle_->hooks_mu_);
    settle_->has_hooks_.store(true, std::memory_order_seq_cst);
    if (settle_->state_.load(std::memory_order_seq_cst) == settlement::pending) {
      settle_->hooks_.push_back(std::move(f));
      return;
    }
  }
  f(settle_->state_.load(std::memory_order_acquire));
}

void message::in_progress() {
  if (settle_.get() != nullptr && settle_->state_.load(std::memory_order_acquire) == settlement::pending)
    settle_->in_progress();
}

settlement message::state() const {
  return settle_.get() != nullptr ? settle_->state_.load(std::memory_order_acquire) : settlement::pending;
}

void message::attach(settler* s) { settle_ = settler_ref(s); }

message message::copy_content() const {
  message m(subject, payload);
  m.key = key;
  m.headers = headers;
  return m;
}

std::string new_id() {
  // NUID's scheme (nats.go): a random 12-digit prefix per thread and a 10-digit sequence that
  // starts at a random value and grows by a random step; the prefix is redrawn when the sequence
  // runs out. As unique as 128 random bits in practice, at the cost of an addition per id.
  static constexpr std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static constexpr std::uint64_t max_seq = 839299365868340224ULL;  // 62^10
  struct nuid {
    std::mt19937_64 rng{(std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
    char prefix[12];
    std::uint64_t seq = 0, inc = 0;
    void reset() {
      for (char& c : prefix) c = alphabet[rng() % 62];
      seq = rng() % max_seq;
      inc = 33 + rng() % 300;
    }
  };
  thread_local nuid n = [] {
    nuid x;
    x.reset();
    return x;
  }();
  n.seq += n.inc;
  if (n.seq >= max_seq) n.reset();
  std::string id(22, '0');
  std::copy(std::begin(n.prefix), std::end(n.prefix), id.begin());
  std::uint64_t s = n.seq;
  for (int i = 21; i >= 12; --i, s /= 62) id[i] = alphabet[s % 62];
  return id;
}

}  // namespace ferry
