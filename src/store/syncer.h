// syncer: the thread that makes one file store's writes durable.
//
// The store writes its buffer to the kernel on its own thread (under the stream's lock), then
// tells the syncer which files got bytes (dirty()) and, with sync always, queues the flush's
// completion (request()). The syncer's thread is the group commit: it takes every request queued
// while its previous fdatasync ran, syncs the files written since (one fdatasync each, usually
// only the active segment), then calls each request's `done`, in order, on its own thread. With
// sync interval it instead wakes every interval and syncs whatever is dirty.
//
// Each such round syncs a snapshot of the dirty files, numbered from 1 (its generation). Bytes
// marked dirty just before a round took its snapshot are synced by that round, while a request
// made just after waits for the next one, which may not touch their file at all: a request
// therefore says from which generation on its bytes were marked dirty (dirty() returns it), and
// fails if any round from there to its own failed, not only its own.
//
// One syncer (and one thread) per file store; it never touches the store's index, only file
// descriptors, shared with the store so that a segment deleted meanwhile stays open until the
// sync that needs it is over. The thread keeps its own state alive, so a `done` that ends up
// closing or destroying the store (say, by dropping the last reference to its stream) is safe:
// stop() from the thread itself lets the thread finish alone. All methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/status.h"
#include "store/file_io.h"
#include "store/store.h"

namespace ferry::store {

// A file the syncer may sync: a segment, or the store's directory (synced with fsync).
struct sync_file {
  sync_file(unique_fd f, std::string n, bool dir = false, bool keep_failure = false)
      : fd(std::move(f)), name(std::move(n)), is_dir(dir), keeps_failure(keep_failure) {}

  unique_fd fd;
  std::string name;
  bool is_dir = false;
  // Once a sync of this file failed, every later one fails too (segments). On Linux a failed
  // fdatasync may have dropped the pages it could not write and marks them clean: a later sync
  // then succeeds without them, and would acknowledge what a power loss loses. A file whose
  // owner writes the unsynced bytes again after a failure (the ack log) does not keep it.
  bool keeps_failure = false;
  // Set by the first failed sync of a file that keeps_failure.
  mutable std::atomic<bool> failed{false};
  // Held across the check of `failed`, the sync and the setting of `failed` (keeps_failure): the
  // store's thread and the syncer's may sync one file at once, and the error of a failed
  // fdatasync is reported once, so the second sync could otherwise succeed unaware of it.
  mutable std::mutex mu;
};
using sync_file_ptr = std::shared_ptr<const sync_file>;

class syncer {
 public:
  syncer(sync_policy policy, std::int64_t interval_ns, file_system& fs);
  syncer(const syncer&) = delete;
  syncer& operator=(const syncer&) = delete;
  ~syncer();  // stop()

  // `f` holds bytes written to the kernel and not yet synced. Returns the generation of the round
  // that will sync them.
  std::uint64_t dirty(sync_file_ptr f);
  // Sync always: calls `done` on the syncer's thread once every file dirtied before this call
  // is synced. The outcome is an error if the sync of any round from generation `since` on failed
  // (0: from the round under way or last taken, enough for bytes marked dirty just before this
  // call): pass the smallest generation dirty() returned for the bytes `done` stands for. After
  // stop(), calls `done` with an error.
  void request(std::function<void(status)> done, std::uint64_t since = 0);
  // Completes every queued request, syncs what is still dirty, ends the thread and returns the
  // outcome of those last syncs. Idempotent. Called from a `done` (the thread itself), it returns
  // at once and the thread does the same work on its own before it exits.
  status stop();
  // Syncs one file now on the calling thread, counted with the thread's syncs. A file that
  // keeps_failure and failed before fails again at once.
  status sync_one(const sync_file& f);
  // fdatasync/fsync calls made so far (the store's test hook).
  [[nodiscard]] std::uint64_t sync_count() const;

 private:
  struct state;
  static void run(const std::shared_ptr<state>& st);

  std::shared_ptr<state> st_;  // shared with the thread
  std::thread thread_;
};

}  // namespace ferry::store
