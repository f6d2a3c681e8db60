// partition_window: what one subscription has delivered from one assigned partition and not yet
// committed, and so the offset it may commit. No I/O and no locking: the subscription guards it.
//
// Kafka keeps one committed offset per partition and group, while ferry settles messages one by
// one and in any order. The window keeps every delivered offset until all offsets before it are
// settled too; the commit position is the first offset that is not, so a crash never skips an
// unsettled message. A blocking nack rewinds the window: the nacked offset and every later one
// that is still unsettled must be delivered again (their old deliveries no longer count), while
// later ones that are already settled stay settled and are skipped when the log brings them back.
// An offset may also be held: fetched, but kept back (behind an unsettled message of its key), so
// the commit position stays below it until it is delivered and settled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace ferry::kafka::detail {

class partition_window {
 public:
  // One delivery of an offset: `serial` tells it from other deliveries of the same offset;
  // `count` is how many of this window's deliveries of it count (1 the first time): a delivery cut
  // short by another offset's nack (the partition went back past it while it was unsettled) does
  // not, so a healthy message behind a failing one does not reach max_deliver for it.
  // `redelivered`: this window delivered it before, counted or not.
  struct delivery {
    std::uint64_t serial = 0;
    std::uint32_t count = 1;
    bool redelivered = false;
  };

  // The hash that stands for an ordering key here (0: no key). Keys are compared by hash: two keys
  // with one hash wait for each other (order kept, a little less parallelism).
  static std::uint64_t key_hash(std::string_view key);

  // The log brought `offset` (with ordering key hash `key`, 0 for none). nullopt: settled already
  // (before a rewind), do not deliver it. A pending delivery of the same offset (the client library
  // went back on its own) is replaced.
  std::optional<delivery> fetched(std::int64_t offset, std::uint64_t key = 0);
  // True while a delivery with ordering key hash `key` (not 0) is unsettled.
  [[nodiscard]] bool busy(std::uint64_t key) const;
  // The log brought `offset` but it is kept back for now (fetched() delivers it later). False:
  // settled already, or past a rewind still owed: drop it.
  bool hold(std::int64_t offset);
  // Delivery `serial` of `offset` is done (acked, terminated, or copied to a retry topic). False
  // when that delivery no longer counts (rewound past, or unknown).
  bool settle(std::int64_t offset, std::uint64_t serial);
  // Blocking nack of delivery `serial` of `offset`: it and every later unsettled offset must be
  // delivered again (the later ones' deliveries not counted). False (and no change) when the
  // delivery no longer counts.
  bool rewind(std::int64_t offset, std::uint64_t serial);
  // The log is going back to `offset` without a nack (a retry message that is not due yet, a seek
  // that failed): every unsettled offset from `offset` on is delivered again, uncounted.
  void rewind_to(std::int64_t offset);

  // The offset to seek to after rewinds (the lowest rewound), if one is owed; take_rewind() also
  // forgets it.
  [[nodiscard]] std::optional<std::int64_t> pending_rewind() const { return rewind_; }
  std::optional<std::int64_t> take_rewind();

  // The position to commit (the next offset for the group to read) when it moved past what was
  // last committed: everything below it is settled.
  [[nodiscard]] std::optional<std::int64_t> commit_position() const;
  void committed(std::int64_t position) { committed_ = position; }
  // The position to commit even when it was committed already (unset before the first fetch).
  [[nodiscard]] std::optional<std::int64_t> position() const { return base_; }

  // Deliveries that still count and are not settled.
  [[nodiscard]] std::size_t unsettled() const { return unsettled_; }
  // Offsets kept: fetched from the commit position on (offsets the log lacks take no room).
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  // `none`: just made by at(), given its state at once.
  enum class state : std::uint8_t { none, pending, done, rewound, held };
  struct entry {
    std::int64_t offset = 0;
    state st = state::none;
    std::uint32_t count = 0;   // deliveries so far that count (the first always does)
    bool again = false;        // the next delivery repeats one cut short (uncounted)
    std::uint64_t serial = 0;  // of the current delivery
    std::uint64_t key = 0;     // hash of the ordering key; 0: none
  };
  // The entry of `offset` (>= base_), made if the window has none.
  entry& at(std::int64_t offset);
  entry* find(std::int64_t offset);
  // The first entry at or after `offset`.
  std::deque<entry>::iterator from(std::int64_t offset);
  // Every pending offset from `offset` on is rewound; `nacked` (if any) counts its delivery.
  void supersede_from(std::int64_t offset, std::optional<std::int64_t> nacked);
  // `e` leaves the pending state.
  void unpend(entry& e);
  // Drops settled entries from the front, advancing base_.
  void trim();

  // By offset, ascending. An offset the log lacks (compacted away, a transaction marker) has no
  // entry: a gap of millions in a compacted topic costs nothing. Without gaps, entries_[i] is
  // offset entries_.front().offset + i, which find() tries first.
  std::deque<entry> entries_;
  // Every offset below base_ is settled; unset until the first fetch (the group's position).
  std::optional<std::int64_t> base_;
  std::optional<std::int64_t> committed_;
  std::optional<std::int64_t> rewind_;
  std::uint64_t next_serial_ = 1;
  std::size_t unsettled_ = 0;
  std::unordered_map<std::uint64_t, std::uint32_t> busy_;  // unsettled deliveries by key hash
};

}  // namespace ferry::kafka::detail
