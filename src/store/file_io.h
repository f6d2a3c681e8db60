// file_io: the few POSIX file operations the file store needs, returning status instead of
// errno: an owning descriptor, positioned reads and writes that finish short transfers,
// fdatasync/fsync, directory helpers. (write_file_atomic and read_file, declared in store.h,
// are implemented in file_io.cc.) Any thread; a descriptor is as thread-safe as the kernel's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace ferry::store {

// Owns one file descriptor; closes it on destruction.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  ~unique_fd() { reset(); }

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Opens `path` with open(2) `flags` (O_CLOEXEC added).
result<unique_fd> open_file(const std::string& path, int flags, unsigned mode = 0644);
// Writes all of `data` at `offset` with pwrite(2): one system call unless the kernel writes
// less than asked (then it continues).
status write_at(int fd, std::string_view data, std::uint64_t offset, std::string_view what);
// Reads exactly `n` bytes at `offset`; data_loss if the file ends first.
status read_at(int fd, char* dst, std::size_t n, std::uint64_t offset, std::string_view what);
// Reads the whole file behind `fd` (of `size` bytes) into `out`.
status read_all(int fd, std::uint64_t size, std::string& out, std::string_view what);
result<std::uint64_t> file_size(int fd, std::string_view what);
status truncate_file(int fd, std::uint64_t size, std::string_view what);
// fdatasync(2), or fsync(2) for a directory (`dir` true).
status sync_fd(int fd, bool dir, std::string_view what);
status sync_dir(const std::string& dir);
// Creates `path` and its missing parents (file_system::make_dirs also makes their names durable).
status make_dirs(const std::string& path);
// The names in directory `dir`, without "." and "..".
result<std::vector<std::string>> list_dir(const std::string& dir);
status remove_file(const std::string& path);
// The directory part of `path` ("." when there is none).
std::string parent_dir(const std::string& path);

// The operations by which a file store changes its files: creations, writes, syncs, truncations,
// renames, removals. posix_fs() is the real one; tests replace it (store_options::fs) to
// fail a write or an fsync, tear a write, fill the disk or lose what was not synced, as
// LevelDB's Env does for its fault-injection tests. Implementations must be thread-safe: the
// store's syncer syncs on its own thread.
class file_system {
 public:
  virtual ~file_system() = default;
  // Opens `path` with open(2) `flags` and O_CREAT: a new name in its directory, durable once the
  // directory is synced.
  virtual result<unique_fd> create(const std::string& path, int flags);
  virtual status write_at(int fd, std::string_view data, std::uint64_t offset, const std::string& name) {
    return store::write_at(fd, data, offset, name);
  }
  // fdatasync(2), or fsync(2) for a directory (`dir` true).
  virtual status sync(int fd, bool dir, const std::string& name) { return sync_fd(fd, dir, name); }
  virtual status truncate(int fd, std::uint64_t size, const std::string& name) { return truncate_file(fd, size, name); }
  virtual status remove(const std::string& path) { return remove_file(path); }
  virtual status rename(const std::string& from, const std::string& to);
  // Creates `path` and its missing parents, and syncs the parent of each directory it created
  // (through sync()), so that a power loss does not take the new names, and what is in them,
  // away.
  virtual status make_dirs(const std::string& path);
  // Removes `path` and everything in it, and syncs its parent, so that a power loss does not bring
  // the removed tree back (a deleted stream or consumer).
  virtual status remove_tree(const std::string& path);

  // fsync(2) of directory `dir` through sync(): the names created, removed or renamed in it
  // become durable.
  status sync_directory(const std::string& dir);
};
file_system& posix_fs();

// write_file_atomic (store.h) through `fs`: the temporary file's write and sync, the rename and
// the directory's sync.
status write_file_atomic(file_system& fs, const std::string& path, std::string_view data);

}  // namespace ferry::store
