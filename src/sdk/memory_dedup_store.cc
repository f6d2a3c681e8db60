#include <algorithm>
#include <functional>
#include <mutex>
#include <vector>

#include "ferry/dedup.h"
#include "sdk/coarse_clock.h"

namespace ferry {

// TTLs are minutes long: a clock tick of resolution is plenty, and far cheaper to read.
using clock = detail::coarse_clock;

std::string_view to_string(dedup_store::reservation r) {
  switch (r) {
    case dedup_store::reservation::reserved:
      return "reserved";
    case dedup_store::reservation::duplicate:
      return "duplicate";
    case dedup_store::reservation::in_flight:
      return "in_flight";
  }
  return "unknown";
}

// Records live in a ring (`records`, oldest at `head`), in the order their keys were first
// written; a key removed by release() leaves a dead record that is skipped. An open-addressing
// table (linear probing, backward-shift deletion) maps hashes to records. A lookup that misses
// touches one table line; evicting the oldest needs no search by key. Grows to max_keys records.
struct memory_dedup_store::impl {
  static constexpr std::uint32_t kEmpty = ~std::uint32_t{0};

  struct record {
    std::string key;
    std::uint64_t hash = 0;
    clock::time_point expires{};
    bool committed = false;
    bool live = false;
  };
  struct slot {
    std::uint32_t hash32 = 0;  // low bits of the hash: the ideal position, and a cheap filter
    std::uint32_t index = kEmpty;
  };

  explicit impl(memory_dedup_options o) : options(o), capacity(std::max<std::size_t>(o.max_keys, 1)) {
    table.resize(64);
  }

  std::size_t mask() const { return table.size() - 1; }

  // The table position of `key`, or npos.
  std::size_t find(std::string_view key, std::uint64_t h) const {
    const auto h32 = static_cast<std::uint32_t>(h);
    for (std::size_t pos = h32 & mask();; pos = (pos + 1) & mask()) {
      const slot& s = table[pos];
      if (s.index == kEmpty) return npos;
      if (s.hash32 == h32 && records[s.index].key == key) return pos;
    }
  }

  void place(std::uint32_t h32, std::uint32_t index) {
    std::size_t pos = h32 & mask();
    while (table[pos].index != kEmpty) pos = (pos + 1) & mask();
    table[pos] = slot{h32, index};
  }

  // Empties table position `pos`, shifting later entries of its probe run back.
  void unplace(std::size_t pos) {
    table[pos] = slot{};
    for (std::size_t next = (pos + 1) & mask(); table[next].index != kEmpty; next = (next + 1) & mask()) {
      const std::size_t ideal = table[next].hash32 & mask();
      if (((next - ideal) & mask()) >= ((next - pos) & mask())) {
        table[pos] = table[next];
        table[next] = slot{};
        pos = next;
      }
    }
  }

  // Forgets the key of record `index` (it stays in the ring, dead).
  void kill(std::uint32_t index) {
    record& r = records[index];
    const auto h32 = static_cast<std::uint32_t>(r.hash);
    std::size_t pos = h32 & mask();
    while (table[pos].index != index) pos = (pos + 1) & mask();
    unplace(pos);
    r.live = false;
    --live;
  }

  void pop_oldest() {
    if (records[head].live) kill(static_cast<std::uint32_t>(head));
    head = (head + 1) % records.size();
    --count;
  }

  // A record for a new key, after dropping expired (and dead) ones from the front and, when the
  // ring is full, the oldest.
  std::uint32_t allocate(clock::time_point now) {
    while (count > 0 && (!records[head].live || records[head].expires <= now)) pop_oldest();
    if (records.size() < capacity && head + count == records.size()) {
      records.emplace_back();
    } else if (count == records.size()) {
      pop_oldest();
    }
    const std::size_t index = records.empty() ? 0 : (head + count) % records.size();
    ++count;
    if ((live + 1) * 2 > table.size()) grow();
    return static_cast<std::uint32_t>(index);
  }

  void grow() {
    table.assign(table.size() * 2, slot{});
    for (std::size_t i = 0; i < records.size(); ++i)
      if (records[i].live) place(static_cast<std::uint32_t>(records[i].hash), static_cast<std::uint32_t>(i));
  }

  // Writes `key` (new) into a fresh record.
  record& insert(std::string_view key, std::uint64_t h, clock::time_point now) {
    const std::uint32_t index = allocate(now);
    record& r = records[index];
    r.key.assign(key.data(), key.size());  // keeps the buffer of the record it replaces
    r.hash = h;
    r.live = true;
    ++live;
    place(static_cast<std::uint32_t>(h), index);
    return r;
  }

  // The record of `key`, inserted when absent.
  record& upsert(std::string_view key, clock::time_point now) {
    const std::uint64_t h = std::hash<std::string_view>{}(key);
    const std::size_t pos = find(key, h);
    return pos == npos ? insert(key, h, now) : records[table[pos].index];
  }

  static constexpr std::size_t npos = ~std::size_t{0};
  const memory_dedup_options options;
  const std::size_t capacity;
  mutable std::mutex mu;  // guards everything below
  std::vector<record> records;
  std::size_t head = 0, count = 0, live = 0;
  std::vector<slot> table;  // a power of two, at most half full
};

memory_dedup_store::memory_dedup_store(memory_dedup_options options) : impl_(std::make_unique<impl>(options)) {}

memory_dedup_store::~memory_dedup_store() = default;

result<dedup_store::reservation> memory_dedup_store::reserve(std::string_view key, std::chrono::milliseconds ttl) {
  const auto now = clock::now();
  std::lock_guard lock(impl_->mu);
  const std::uint64_t h = std::hash<std::string_view>{}(key);
  const std::size_t pos = impl_->find(key, h);
  impl::record& r = pos == impl::npos ? impl_->insert(key, h, now) : impl_->records[impl_->table[pos].index];
  if (pos != impl::npos && r.expires > now) return r.committed ? reservation::duplicate : reservation::in_flight;
  r.committed = false;
  r.expires = now + ttl;
  return reservation::reserved;
}

status memory_dedup_store::commit(std::string_view key, std::chrono::milliseconds ttl) {
  const auto now = clock::now();
  std::lock_guard lock(impl_->mu);
  impl::record& r = impl_->upsert(key, now);
  r.committed = true;
  r.expires = now + ttl;
  return status::ok();
}

status memory_dedup_store::release(std::string_view key) {
  std::lock_guard lock(impl_->mu);
  const std::uint64_t h = std::hash<std::string_view>{}(key);
  const std::size_t pos = impl_->find(key, h);
  if (pos == impl::npos) return status::ok();
  const std::uint32_t index = impl_->table[pos].index;
  if (!impl_->records[index].committed) impl_->kill(index);
  return status::ok();
}

std::size_t memory_dedup_store::size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->live;
}

}  // namespace ferry
