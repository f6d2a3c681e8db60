// store: where a stream keeps its messages. One interface, two implementations: memory_store
// (memory_store.h) and file_store (file_store.h: segment files with a checksum per record,
// recovery after a crash, group commit). docs/store-format.md describes the files. The broker's stream layer owns a
// store and serializes calls to it (one mutex per stream); a store is not thread-safe unless a method says so.
//
// Sequences start at 1 and only grow; a removed message leaves a gap (an "interior delete").
// Limits (max_msgs, max_bytes, max_age, per-subject, message size, discard policy) are applied
// by the store itself on every append; retention policies that depend on consumers (interest,
// work queue) are the stream layer's, which removes messages explicitly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "base/subject_match.h"

namespace ferry::store {

// A stream sequence number (strong type: not to be mixed with consumer sequences).
struct stream_seq {
  std::uint64_t value = 0;
  constexpr auto operator<=>(const stream_seq&) const = default;
  constexpr stream_seq next() const { return {value + 1}; }
};

struct stored_message {
  stream_seq seq;
  std::string subject;
  std::string headers;  // a raw NATS/1.0 header block, or empty
  std::string data;
  std::int64_t timestamp_ns = 0;  // UTC, nanoseconds since the epoch
};

enum class discard_policy : std::uint8_t { old, new_ };

// Limits applied on append. -1 (or 0 for max_age) means unlimited; as in nats-server, 0 also
// means unlimited for max_msgs, max_bytes and max_msgs_per_subject (but max_msg_size 0 allows
// only empty messages).
struct limits {
  std::int64_t max_msgs = -1;
  std::int64_t max_bytes = -1;
  std::int64_t max_age_ns = 0;
  std::int64_t max_msgs_per_subject = -1;
  std::int64_t max_msg_size = -1;
  discard_policy discard = discard_policy::old;
  bool discard_new_per_subject = false;  // with discard new: refuse when the subject is full
};

// What a purge removes: messages matching `filter` (all when empty), below sequence `up_to`
// (when set), keeping the newest `keep` (when set) of those that match.
struct purge_request {
  std::string filter;
  std::optional<stream_seq> up_to;
  std::optional<std::uint64_t> keep;
  // The caller flushes right after (a rollup inside a publish): under sync always the purge
  // leaves its fdatasync to that flush instead of making one of its own on the caller's thread.
  bool flush_follows = false;
};

struct store_state {
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;  // as nats-server counts them per storage type: memory_msg_size() or
                            // file_msg_size() per message (see below)
  stream_seq first_seq{0};  // next sequence when empty (last_seq + 1), as nats-server reports it
  std::int64_t first_ts_ns = 0;
  stream_seq last_seq{0};
  std::int64_t last_ts_ns = 0;
  std::uint64_t num_subjects = 0;
  std::uint64_t num_deleted = 0;  // interior gaps between first_seq and last_seq
  // Messages that were acknowledged once but could not be recovered (corruption): sequences.
  std::vector<std::uint64_t> lost;
};

// How durable an acknowledged append is.
enum class sync_policy : std::uint8_t {
  interval,  // written to the kernel before the acknowledgement (survives kill -9), fsync'd
             // periodically (sync_interval) and on close
  always,    // fsync'd before the acknowledgement; concurrent appends share each fsync
};

class file_system;  // file_io.h
struct sync_file;   // syncer.h
using sync_file_ptr = std::shared_ptr<const sync_file>;

struct store_options {
  limits lim;
  sync_policy sync = sync_policy::interval;
  std::int64_t sync_interval_ns = 120'000'000'000;  // nats-server's default: 2 minutes
  std::uint64_t segment_bytes = 64ull << 20;        // file store: rotate segments at this size
  std::shared_ptr<file_system> fs;                  // file store: null is posix_fs() (tests inject faults)
};

class message_store {
 public:
  virtual ~message_store() = default;

  // Appends a message with the next sequence and time `ts_ns`, then applies the limits
  // (removing old messages, or refusing this one with resource_exhausted under discard new,
  // or with invalid_argument if it exceeds max_msg_size). The message is readable at once;
  // see flush_then() for when it is durable.
  virtual result<stream_seq> append(std::string_view subject, std::string_view headers, std::string_view data,
                                    std::int64_t ts_ns) = 0;

  // Hands every message appended so far to the operating system (the file store writes its
  // buffer with one write(); memory has nothing to do), so that it survives the process being
  // killed. If that fails, the messages appended since the last successful write are discarded:
  // no longer readable nor counted, and their sequences go to the next appends (they must not
  // have been shown to anyone: the stream layer delivers only written messages). Removals stay
  // done. A full disk (ENOSPC, EDQUOT) is resource_exhausted, other failures io_error.
  virtual status write() = 0;

  // Makes everything appended so far durable as the sync policy says (write() first; with sync
  // always also fsync, shared with concurrent callers), then calls `done` with the
  // outcome. `done` may run on another thread (the store's sync thread) or before this returns.
  // Thread-safe with respect to other calls only as the stream layer serializes them.
  virtual void flush_then(std::function<void(status)> done) = 0;
  // Makes the bytes written to `f` so far (a file kept beside the store, such as a consumer's
  // acknowledgement log) durable with the store's own, as the sync policy says: with sync always
  // on the sync thread, in the same group commit as the segments, then calls `done` there with the
  // outcome; with sync interval `f` is synced at the next interval and `done` runs at once. `f`
  // stays open until that sync is over. The memory store keeps no files: failed_precondition.
  virtual void sync_file_then(sync_file_ptr f, std::function<void(status)> done) = 0;

  // The message at `seq`; not_found if it was removed or never existed.
  virtual result<stored_message> load(stream_seq seq) const = 0;
  // The first message with sequence >= `from` whose subject matches `filter` (wildcards; empty
  // matches all); not_found if none.
  virtual result<stored_message> load_next(stream_seq from, std::string_view filter) const = 0;
  // The sequence load_next(from, filter) would return, 0 if none (to skip past a message that
  // cannot be read).
  [[nodiscard]] virtual std::uint64_t next_seq(stream_seq from, std::string_view filter) const = 0;
  // The last message whose subject matches `filter` (wildcards); not_found if none.
  virtual result<stored_message> load_last(std::string_view filter) const = 0;
  // The last sequence of the exact subject `subject`, 0 if it has none (Nats-Expected-Last-
  // Subject-Sequence, KV revisions).
  [[nodiscard]] virtual std::uint64_t last_seq_of(std::string_view subject) const = 0;

  // Removes one message. not_found if absent. `erase` overwrites its bytes on disk as well.
  virtual status remove(stream_seq seq, bool erase) = 0;
  // Removes what `req` selects; returns how many messages were removed.
  virtual result<std::uint64_t> purge(const purge_request& req) = 0;
  // Removes messages older than max_age at `now_ns`; returns how many.
  virtual std::uint64_t expire(std::int64_t now_ns) = 0;

  [[nodiscard]] virtual store_state state() const = 0;
  // Count of messages per subject for subjects matching `filter` (empty: all).
  [[nodiscard]] virtual std::map<std::string, std::uint64_t> subjects(std::string_view filter) const = 0;
  // Messages with sequence >= `from` matching `filter` (consumer pending counts).
  [[nodiscard]] virtual std::uint64_t num_pending(stream_seq from, std::string_view filter) const = 0;
  // Interior deletes (gaps), for STREAM.INFO deleted_details.
  [[nodiscard]] virtual std::vector<std::uint64_t> deleted() const = 0;

  // Raises the last sequence to `last`, durably, so the next append gets last + 1; nothing when
  // the stream is there already. For a stream whose tail was lost (a segment cut short) while
  // consumers had seen higher sequences: sequences never go backwards, or a consumer would skip
  // the new messages that reused them.
  virtual status skip_to(stream_seq last) = 0;

  // New limits; applied at once (may remove messages).
  virtual status update_limits(const limits& l) = 0;
  // Flushes and syncs everything, then releases files. Further calls fail. Waits for the `done`
  // callbacks already queued by flush_then(), so the caller must not hold a lock they take
  // (when called from inside a `done`, it does not wait and the sync finishes in the background).
  virtual status close() = 0;
  // Closes and removes all data.
  virtual status destroy() = 0;
};

// A store that keeps messages in memory only.
std::unique_ptr<message_store> make_memory_store(const store_options& o);

// A store in directory `dir` (created if missing). Existing segments are recovered: a torn or
// corrupt tail is truncated, indexes are rebuilt, and unrecoverable records are reported in
// state().lost. Errors: io_error, data_loss (a damaged directory that cannot be opened at all).
result<std::unique_ptr<message_store>> open_file_store(const std::string& dir, const store_options& o);

// Writes `data` to `path` so that a crash leaves either the old or the new contents
// (temporary file, fsync, rename, fsync of the directory). For stream and consumer metadata.
status write_file_atomic(const std::string& path, std::string_view data);
// Reads a whole file; not_found if it does not exist.
result<std::string> read_file(const std::string& path);

// The bytes one message counts for in store_state::bytes and against max_bytes. nats-server
// counts differently per storage type, and so do we: a memory stream counts subject + headers +
// data + 16 (memStoreMsgSize), a file stream the length of nats-server's own on-disk record,
// subject + data + 30, plus headers + 4 when there are headers (fileStoreMsgSize).
constexpr std::uint64_t memory_msg_size(std::size_t subject, std::size_t headers, std::size_t data) {
  return subject + headers + data + 16;
}
constexpr std::uint64_t file_msg_size(std::size_t subject, std::size_t headers, std::size_t data) {
  return subject + data + 30 + (headers == 0 ? 0 : headers + 4);
}

// True if literal `subject` matches `filter` (which may hold wildcards; empty matches all).
inline bool subject_filter_matches(std::string_view filter, std::string_view subject) {
  return filter.empty() || ferry::subject_matches(filter, subject);
}

}  // namespace ferry::store
