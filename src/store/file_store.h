// file_store: a message store in a directory of append-only segment files, with a CRC-32C per
// record, recovery after a crash and group commit. The format, the recovery rules and what each
// sync policy guarantees are in docs/store-format.md; open one with open_file_store() (store.h).
//
// Layout: `<dir>/<base>.seg`, where base is the first sequence the segment may hold (20 digits).
// The last segment is the active one; appends go to a memory buffer that flush_then() (or a
// full buffer, or a rotation) writes to it with one write(). A segment is sealed when the next
// message would take it past segment_bytes, and deleted once every message in it is removed; a
// purge that leaves a sealed segment mostly removed messages rewrites it with its live records
// only.
// Removals are tombstone records, except at the front of the stream, where one purge-floor record
// (written with the next buffer) covers them all.
//
// In memory: the shared index of indexed_store, whose payload word says where each message lies
// (segment, offset, header bit); reads are pread()s served by the page cache, 64 KiB ahead into
// blocks that belong to the reading thread, so a consumer reading in order makes one call per
// block, not per message (or copies from the unwritten buffer). The syncer (syncer.h) owns one
// thread per store for the fsyncs.
//
// Threads: like every store, calls are serialized by the stream layer; `done` callbacks of
// flush_then() run on the syncer's thread with sync always, on the caller's with interval.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/indexed_store.h"
#include "store/record.h"
#include "store/syncer.h"

namespace ferry::store {

class file_store final : public indexed_store {
 public:
  // Opens (creating, recovering) the store in `dir`; see open_file_store().
  static result<std::unique_ptr<file_store>> open(const std::string& dir, const store_options& o);
  file_store(const file_store&) = delete;
  file_store& operator=(const file_store&) = delete;
  ~file_store() override;  // close() if not closed

  status write() override;
  void flush_then(std::function<void(status)> done) override;
  void sync_file_then(sync_file_ptr f, std::function<void(status)> done) override;
  status close() override;
  status destroy() override;

  // For tests: fdatasync/fsync calls made so far (any thread); the segment file names in use.
  [[nodiscard]] std::uint64_t sync_count() const { return syncer_->sync_count(); }
  [[nodiscard]] std::vector<std::string> segment_files() const;

 protected:
  [[nodiscard]] std::uint64_t size_of(std::string_view subject, std::string_view headers,
                                      std::string_view data) const override;
  result<std::uint64_t> put_body(std::uint64_t seq, std::string_view subject, std::string_view headers,
                                 std::string_view data, std::int64_t ts_ns) override;
  result<stored_message> get_body(std::uint64_t seq, const entry& e, const std::string& subject) const override;
  void on_remove(std::uint64_t seq, const entry& e, bool erase) override;
  status after_change(change c) override;
  [[nodiscard]] std::vector<std::uint64_t> lost() const override { return lost_; }
  status persist_last(std::uint64_t seq) override;

 private:
  struct segment {
    std::uint32_t no = 0;    // creation order, in memory only: what index payloads refer to
    // Never reused, not even by the rewrite of a compacted segment (which keeps `no`): names this
    // file in the threads' read-ahead blocks.
    std::uint64_t file_id = new_file_id();
    std::uint64_t base = 0;  // its file name
    sync_file_ptr file;
    std::uint64_t written = 0;   // bytes in the file; the active segment's buffer comes after
    std::uint64_t live = 0;      // live messages in it
    std::uint64_t messages = 0;  // message records in it, live or not
    // Tombstones in this file for messages of older segments (seq, segment no): written again
    // into the active segment if this one is deleted while theirs is not.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> tombstones;
  };
  struct removal {
    std::uint64_t seq;
    std::uint64_t payload;
    std::uint32_t size;
    bool erase;
  };
  struct location {
    std::uint32_t segment_no;
    std::uint64_t offset;
    std::uint64_t length;
  };

  file_store(std::string dir, const store_options& o);

  // Recovery (file_recovery.cc).
  class damage;  // the damaged regions of the segment being scanned
  status recover();
  // Rebuilds the index from the records of segments_[index]; the sequences its damaged regions
  // may have held go to `candidates`, tombstones of messages not found to `unmatched`.
  status scan_segment(std::size_t index, std::uint64_t next_base, std::vector<std::uint64_t>& candidates,
                      std::vector<std::uint64_t>& unmatched);
  // No record parses at `pos` of `seg`: sets the damage up to the next valid record aside, or cuts
  // off a torn tail of the last segment. Returns where the scan goes on (data.size() after a cut).
  result<std::size_t> skip_damage(segment& seg, std::string_view data, std::size_t pos, bool last_segment, damage& d);
  // The valid record `f` at `pos` of `seg` into the index.
  status restore_record(segment& seg, const record::frame& f, std::size_t pos, damage& d,
                        std::vector<std::uint64_t>& unmatched);
  // A message or erased-message record at `seq`; false (logged) if it is out of order.
  bool accept_message(segment& seg, std::uint64_t seq, damage& d);

  static std::uint64_t new_file_id();
  static std::uint64_t make_payload(std::uint32_t no, std::uint64_t offset, bool headers);
  static location locate(const entry& e);
  static location locate(std::uint64_t payload, std::uint32_t size);
  [[nodiscard]] segment* find_segment(std::uint32_t no) const;
  segment& active() { return *segments_.back(); }
  [[nodiscard]] std::string segment_path(std::uint64_t base) const;
  status create_segment(std::uint64_t base);
  status write_buffer();
  // After a failed write: drops the buffered records of the messages appended since the last
  // successful one and forgets those messages (message_store::write()).
  void discard_unwritten();
  // A purge emptied the store: a fresh active segment named after the next sequence, then every
  // other segment deleted (oldest first), then the write, so a full disk gets its room back.
  status restart_empty();
  // remove(erase): overwrites the message's record with an erased record of the same length.
  bool erase_buffered(const removal& r);  // false if the record was written already
  status erase_written(const removal& r);
  status delete_segment(std::uint32_t no);
  status drop_empty_segments();
  // After a purge: compact() each segment in `touched` (those it took messages from) that is
  // sealed, or the active one when it is the only one.
  status compact_touched(const std::vector<std::uint32_t>& touched);
  // When at least half of `f` is removed messages, rewrites it with only its live ones and the
  // tombstones it holds for older segments (the same name, through a synced temporary file and a
  // rename), so that the space comes back. A failed rewrite leaves the segment as it was and is
  // only logged: the removals themselves have succeeded. Returns the error of writing the active
  // segment's buffer first, if any.
  status compact(segment& f);
  // Reads a written record through this thread's read-ahead blocks (file_store.cc).
  status read_record(const segment& seg, const location& loc, std::string& out) const;
  void mark_dirty(const sync_file_ptr& f);  // syncer_->dirty(), noting the round for flush_then

  const std::string dir_;
  const store_options opts_;
  file_system& fs_;
  std::vector<std::unique_ptr<segment>> segments_;  // by no (and base); back() is the active one
  std::uint32_t next_no_ = 1;
  std::string wbuf_;                    // records for the active segment not yet written
  std::uint64_t unwritten_from_ = 0;    // the first message in wbuf_ (0: none)
  std::int64_t unwritten_prev_ts_ = 0;  // the last timestamp before it
  std::vector<removal> removed_;        // removals since the last after_change()
  std::vector<std::uint32_t> emptied_;  // segments whose last live message went
  std::uint64_t floor_written_ = 1;     // the highest purge floor on disk (nothing is below 1)
  std::uint32_t floor_no_ = 0;          // the segment that holds it
  std::vector<std::uint64_t> lost_;
  bool recovering_ = false;
  std::uint64_t names_changed_ = 0;  // segment files created or deleted so far
  sync_file_ptr dir_file_;
  std::unique_ptr<syncer> syncer_;
  // The syncer's round that syncs the first file marked dirty since the last flush_then (0: none):
  // that flush fails if a sync of any round from there on fails (syncer.h).
  std::uint64_t unrequested_since_ = 0;
};

}  // namespace ferry::store
