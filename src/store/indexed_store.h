// indexed_store: what memory_store and file_store share, written once: the sequence index, the
// per-subject state, the limits, the purge rules and every query. An implementation keeps only
// the message bodies (in memory, or in segment files) behind a few hooks, so one parameterized
// test suite checks the semantics of both.
//
// The index is a window of entries, one per sequence from the first live message to the last
// sequence; a removed message keeps its (dead) entry until the front of the window passes it.
// Each subject keeps the ascending list of its sequences (dead ones are skipped lazily and
// compacted away), so a subject's first and last message, last_seq_of() and literal filters
// cost no scan of the stream.
//
// Not thread-safe, like message_store: the stream layer serializes calls.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/string_hash.h"
#include "store/store.h"

namespace ferry::store {

class indexed_store : public message_store {
 public:
  result<stream_seq> append(std::string_view subject, std::string_view headers, std::string_view data,
                            std::int64_t ts_ns) final;
  result<stored_message> load(stream_seq seq) const final;
  result<stored_message> load_next(stream_seq from, std::string_view filter) const final;
  result<stored_message> load_last(std::string_view filter) const final;
  [[nodiscard]] std::uint64_t next_seq(stream_seq from, std::string_view filter) const final;
  [[nodiscard]] std::uint64_t last_seq_of(std::string_view subject) const final;
  status remove(stream_seq seq, bool erase) final;
  result<std::uint64_t> purge(const purge_request& req) final;
  std::uint64_t expire(std::int64_t now_ns) final;
  [[nodiscard]] store_state state() const final;
  [[nodiscard]] std::map<std::string, std::uint64_t> subjects(std::string_view filter) const final;
  [[nodiscard]] std::uint64_t num_pending(stream_seq from, std::string_view filter) const final;
  [[nodiscard]] std::vector<std::uint64_t> deleted() const final;
  status update_limits(const limits& l) final;
  status skip_to(stream_seq last) final;

 protected:
  static constexpr std::uint32_t dead = 0xFFFFFFFF;

  // One sequence of the window.
  struct entry {
    std::int64_t ts_ns = 0;
    std::uint32_t subject = dead;  // subject id, or dead once removed
    std::uint32_t size = 0;        // bytes counted in store_state::bytes
    std::uint64_t payload = 0;     // the implementation's handle to the body
  };

  explicit indexed_store(const limits& l) : lim_(l) {}

  // ---- Hooks for the implementation ----
  // The bytes a message counts for (memory_msg_size or file_msg_size).
  [[nodiscard]] virtual std::uint64_t size_of(std::string_view subject, std::string_view headers,
                                              std::string_view data) const = 0;
  // Stores the body of message `seq`; returns the payload word kept in its entry. On error the
  // append fails and nothing changed.
  virtual result<std::uint64_t> put_body(std::uint64_t seq, std::string_view subject, std::string_view headers,
                                         std::string_view data, std::int64_t ts_ns) = 0;
  virtual result<stored_message> get_body(std::uint64_t seq, const entry& e, const std::string& subject) const = 0;
  // Called for each message as it is removed, while its entry still holds the payload.
  virtual void on_remove(std::uint64_t seq, const entry& e, bool erase) = 0;
  enum class change : std::uint8_t { append, remove, purge };
  // Called once at the end of each operation that may have changed the index (`purge` for
  // purge(), `remove` for remove, expire and update_limits); its error is returned by remove,
  // purge and update_limits (append has already assigned the sequence and ignores it).
  virtual status after_change(change c) = 0;
  [[nodiscard]] virtual std::vector<std::uint64_t> lost() const { return {}; }
  // Makes the last sequence `seq` (raised by skip_to) durable; memory has nothing to do.
  virtual status persist_last(std::uint64_t seq) {
    (void)seq;
    return status::ok();
  }

  // ---- For recovery (file store) and the implementations ----
  // Adds a message read back from disk. REQUIRES: seq > last_seq().
  void restore_message(std::uint64_t seq, std::string_view subject, std::int64_t ts_ns, std::uint32_t size,
                       std::uint64_t payload);
  // Removes `seq` if it is live (calling on_remove); false if it was not.
  bool restore_remove(std::uint64_t seq);
  // Removes every message below `floor` (calling on_remove) and raises the last sequence to
  // floor - 1 if it is lower; returns how many were removed.
  std::uint64_t remove_below_floor(std::uint64_t floor);
  // Raises the last sequence to `seq` (a message that existed but is not live).
  void restore_last(std::uint64_t seq, std::optional<std::int64_t> ts_ns);
  [[nodiscard]] bool is_live(std::uint64_t seq) const { return find(seq) != nullptr; }
  // Points live message `seq` at where its body moved (a compaction rewrote its file).
  void move_body(std::uint64_t seq, std::uint64_t payload);
  // The entry of live message `seq`, or null.
  [[nodiscard]] const entry* live_entry(std::uint64_t seq) const { return find(seq); }
  // The first live sequence, or last + 1 when empty: every sequence below it is gone.
  [[nodiscard]] std::uint64_t floor_seq() const { return msgs_ > 0 ? base_ : last_ + 1; }
  [[nodiscard]] std::uint64_t last_seq() const { return last_; }
  [[nodiscard]] std::int64_t last_ts() const { return last_ts_; }
  [[nodiscard]] bool closed() const { return closed_; }
  // During after_change(purge): the purge_request's flush_follows.
  [[nodiscard]] bool purge_flush_follows() const { return purge_flush_follows_; }
  void mark_closed() { closed_ = true; }
  // Drops every message without calling hooks (destroy).
  void clear_index();
  // Forgets every sequence after `seq`, as if they had never been appended (no hooks are
  // called), and makes `seq`, stamped `ts_ns`, the last one again: for appends whose write
  // failed. REQUIRES: seq <= last_seq().
  void discard_after(std::uint64_t seq, std::int64_t ts_ns);

 private:
  struct subject_state {
    std::string name;
    std::uint64_t live = 0;
    std::vector<std::uint64_t> seqs;  // ascending; dead ones may sit between head and back
    std::size_t head = 0;             // seqs[head] and seqs.back() are always live
  };
  class matcher;

  [[nodiscard]] const entry* find(std::uint64_t seq) const;
  [[nodiscard]] std::optional<std::uint32_t> subject_id(std::string_view subject) const;
  [[nodiscard]] bool live_in(std::uint64_t seq, std::uint32_t k) const;
  std::uint32_t add_subject(std::string_view subject);
  void push_entry(std::uint64_t seq, const entry& e, std::string_view subject);
  void remove_seq(std::uint64_t seq, bool erase);
  void subject_removed(std::uint32_t k, std::uint64_t seq);
  void enforce_subject_limit(std::uint32_t k);
  void enforce_stream_limits();
  std::uint64_t expire_before(std::int64_t cutoff);
  std::uint64_t purge_matching(const purge_request& req);
  [[nodiscard]] std::uint64_t count_live(std::uint64_t from, std::uint64_t to) const;  // in [from, to)
  [[nodiscard]] std::uint64_t subject_pending(const subject_state& ss, std::uint32_t k, std::uint64_t from) const;
  [[nodiscard]] std::optional<std::uint64_t> next_match(std::uint64_t from, std::string_view filter) const;
  [[nodiscard]] std::optional<std::uint64_t> last_match(std::string_view filter) const;
  result<stored_message> load_at(std::uint64_t seq) const;
  [[nodiscard]] status closed_status() const;

  std::deque<entry> entries_;  // entries_[i] is sequence base_ + i; base_ + size() == last_ + 1
  std::uint64_t base_ = 1;     // when entries_ is not empty, entries_.front() is live
  std::uint64_t last_ = 0;
  std::int64_t last_ts_ = 0;
  std::uint64_t msgs_ = 0;
  std::uint64_t bytes_ = 0;
  std::vector<subject_state> subjects_;  // by id; ids of subjects with no message are free
  string_map<std::uint32_t> subject_ids_;
  std::vector<std::uint32_t> free_ids_;
  limits lim_;
  bool closed_ = false;
  bool purge_flush_follows_ = false;
};

}  // namespace ferry::store
