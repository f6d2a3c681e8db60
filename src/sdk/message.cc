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
    case settlement::pending: return "pending";
    case settlement::acked: return "acked";
    case settlement::nacked: return "nacked";
    case settlement::terminated: return "terminated";
  }
  return "unknown";
}

namespace {
// Moves `state` from pending to `to`; true if this call did it.
bool settle_once(std::atomic<settlement>& state, settlement to) {
  settlement expected = settlement::pending;
  return state.compare_exchange_strong(expected, to, std::memory_order_acq_rel);
}
}  // namespace

bool message::ack() {
  if (!settle_ || !settle_once(settle_->state, settlement::acked)) return false;
  settle_->impl->ack();
  return true;
}

bool message::nack(std::chrono::milliseconds delay) {
  if (!settle_ || !settle_once(settle_->state, settlement::nacked)) return false;
  settle_->impl->nack(delay);
  return true;
}

bool message::term(std::string_view reason) {
  if (!settle_ || !settle_once(settle_->state, settlement::terminated)) return false;
  settle_->impl->term(reason);
  return true;
}

void message::in_progress() {
  if (settle_ && settle_->state.load(std::memory_order_acquire) == settlement::pending) settle_->impl->in_progress();
}

settlement message::state() const {
  return settle_ ? settle_->state.load(std::memory_order_acquire) : settlement::pending;
}

void message::attach(std::shared_ptr<settler> s) {
  if (!s) {
    settle_.reset();
    return;
  }
  settle_ = std::make_shared<shared_settlement>();
  settle_->impl = std::move(s);
}

message message::copy_content() const {
  message m(subject, payload);
  m.key = key;
  m.headers = headers;
  return m;
}

std::string new_id() {
  static constexpr std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{(std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
  std::string id(22, '0');
  std::uint64_t a = rng(), b = rng();
  for (int i = 0; i < 22; ++i) {
    std::uint64_t& w = i < 11 ? a : b;
    id[i] = alphabet[w % 62];
    w /= 62;
  }
  return id;
}

}  // namespace ferry
