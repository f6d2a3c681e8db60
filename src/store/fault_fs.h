// fault_fs: a file_system for tests that makes the disk misbehave on demand (LevelDB's
// FaultInjectionTestEnv, for the file store): failing writes and syncs, writes torn at a chosen
// byte, a disk that fills up, a process that dies mid-write and a power loss that drops whatever
// was written since each file's last sync. Pass it in store_options::fs.
//
// It tracks the files written through it: their size and how much of it the last successful
// sync made durable (the size when that sync began). It tracks names too: a file created,
// removed or renamed through it keeps its old name (or none) through a power loss until its
// directory is synced, as on a file system that does not order its metadata for us: a new file
// vanishes (a new directory with all in it), a removed one comes back with what was durable in it,
// a rename is undone. What it
// cannot model: an overwrite in place below the synced size (erase) survives a power loss here.
// A file renamed over another takes its tracking along.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store/file_io.h"

namespace ferry::store::testing {

class fault_fs final : public file_system {
 public:
  fault_fs() = default;
  fault_fs(const fault_fs&) = delete;
  fault_fs& operator=(const fault_fs&) = delete;
  ~fault_fs() override;

  result<unique_fd> create(const std::string& path, int flags) override;
  status write_at(int fd, std::string_view data, std::uint64_t offset, const std::string& name) override;
  status sync(int fd, bool dir, const std::string& name) override;
  status truncate(int fd, std::uint64_t size, const std::string& name) override;
  status remove(const std::string& path) override;
  status rename(const std::string& from, const std::string& to) override;
  status make_dirs(const std::string& path) override;
  // Moves the tree aside (to the system's temporary directory) until its parent is synced: a
  // power loss before that brings it back.
  status remove_tree(const std::string& path) override;

  // From now on writes fail with errno `err`. The first failing one writes its first `keep`
  // bytes (a torn write); with `then_die`, every operation after that one fails with EIO, as if
  // the process had been killed right after the torn write.
  void fail_writes(int err, std::size_t keep = 0, bool then_die = false);
  // From now on syncs fail with errno `err` (and make nothing durable). With `drop`, a failed sync
  // of a file also loses what it could not write, as Linux does after an fsync error (the pages
  // are marked clean): from there on the file is durable only up to that point, whatever later
  // syncs say, until those bytes are written anew.
  void fail_syncs(int err, bool drop = false);
  // A disk of `bytes` for the files written through this fs: a write that does not fit writes
  // what fits and fails with ENOSPC, as a real file system does.
  void set_capacity(std::uint64_t bytes);
  // From now on syncs wait until release_syncs(): a slow disk, to show who waits for it.
  void hold_syncs();
  void release_syncs();
  // Ends fail_writes / fail_syncs (not a death or a power loss).
  void heal();
  // The power goes: every file is cut back to what its last sync made durable, every name changed
  // since its directory's last sync is as it was before, and every operation from now on fails
  // with EIO.
  void power_loss();

  [[nodiscard]] std::uint64_t used() const;  // bytes in the files written through this fs
  [[nodiscard]] std::uint64_t writes() const;
  [[nodiscard]] std::uint64_t syncs() const;

 private:
  struct file {
    std::uint64_t size = 0;
    std::uint64_t synced = 0;  // durable prefix
    std::uint64_t dropped = no_drop;  // fail_syncs(.., drop): lost from here until rewritten
  };
  static constexpr std::uint64_t no_drop = ~std::uint64_t{0};
  // What a power loss brings back for a name changed since its directory's last sync: nothing
  // (the name is new) or a file with these bytes. `gen` orders the changes against directory syncs.
  struct old_name {
    bool existed = false;
    std::string content;
    std::uint64_t gen = 0;
  };
  file& track(int fd, const std::string& name);  // REQUIRES: mu_ held
  void name_changes(const std::string& path);    // REQUIRES: mu_ held; before the change
  [[nodiscard]] std::uint64_t used_locked() const;

  mutable std::mutex mu_;
  std::map<std::string, file> files_;
  std::map<std::string, old_name> unsynced_names_;
  struct removed_tree {
    std::string path, aside;
    std::uint64_t gen = 0;
  };
  std::vector<removed_tree> removed_trees_;
  std::uint64_t name_gen_ = 0;
  int write_err_ = 0;
  std::size_t keep_ = 0;
  bool die_after_write_ = false;
  int sync_err_ = 0;
  bool drop_on_failed_sync_ = false;
  std::uint64_t capacity_ = 0;  // 0: unlimited
  bool dead_ = false;
  bool held_ = false;  // hold_syncs()
  std::condition_variable released_;
  std::uint64_t writes_ = 0;
  std::uint64_t syncs_ = 0;
};

}  // namespace ferry::store::testing
