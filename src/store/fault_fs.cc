#include "store/fault_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

#include "store/store.h"

namespace ferry::store::testing {

fault_fs::file& fault_fs::track(int fd, const std::string& name) {
  auto [it, added] = files_.try_emplace(name);
  if (added) {
    // Whatever the file held before this fs saw it counts as durable.
    struct stat st {};
    if (::fstat(fd, &st) == 0) it->second.size = it->second.synced = static_cast<std::uint64_t>(st.st_size);
  }
  return it->second;
}

void fault_fs::name_changes(const std::string& path) {
  old_name& o = unsynced_names_[path];
  const bool first = o.gen == 0;
  o.gen = ++name_gen_;  // a directory sync that began before this change does not cover it
  if (!first) return;   // a power loss brings back what was there at the last directory sync
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // a new name
  o.existed = true;
  auto content = read_file(path);
  if (!content.is_ok()) return;
  o.content = std::move(*content);
  if (auto it = files_.find(path); it != files_.end()) o.content.resize(std::min(o.content.size(), it->second.synced));
}

result<unique_fd> fault_fs::create(const std::string& path, int flags) {
  std::lock_guard lk(mu_);
  if (dead_) return errno_status("open " + path, EIO);
  // Only a file that was not there makes a new name (reopening one changes no name).
  const bool is_new = ::access(path.c_str(), F_OK) != 0;
  if (is_new) name_changes(path);
  auto opened = open_file(path, flags | O_CREAT);
  if (!opened.is_ok()) {
    if (is_new && unsynced_names_[path].existed == false) unsynced_names_.erase(path);
    return opened.status();
  }
  unique_fd fd = std::move(*opened);
  if ((flags & O_TRUNC) != 0) files_.erase(path);
  (void)track(fd.get(), path);  // a file new to this fs: what it holds counts as durable
  return fd;
}

std::uint64_t fault_fs::used_locked() const {
  std::uint64_t n = 0;
  for (const auto& [name, f] : files_) n += f.size;
  return n;
}

status fault_fs::write_at(int fd, std::string_view data, std::uint64_t offset, const std::string& name) {
  std::lock_guard lk(mu_);
  if (dead_) return errno_status("write " + name, EIO);
  ++writes_;
  file& f = track(fd, name);
  std::string_view part = data;
  int err = 0;
  if (write_err_ != 0) {
    part = data.substr(0, keep_);
    keep_ = 0;  // only the first failing write is torn
    err = write_err_;
    if (die_after_write_) dead_ = true;
  } else if (capacity_ > 0) {
    const std::uint64_t end = offset + data.size();
    const std::uint64_t grow = end > f.size ? end - f.size : 0;
    const std::uint64_t room = capacity_ - std::min(capacity_, used_locked());
    if (grow > room) {
      part = data.substr(0, static_cast<std::size_t>(data.size() - (grow - room)));
      err = ENOSPC;
    }
  }
  if (!part.empty()) {
    const status s = store::write_at(fd, part, offset, name);
    if (!s.is_ok()) return s;
    f.size = std::max(f.size, offset + part.size());
    // Bytes lost by a failed sync count again once written anew (from their start on).
    if (offset <= f.dropped && offset + part.size() > f.dropped) {
      f.dropped = offset + part.size() >= f.size ? no_drop : offset + part.size();
    }
  }
  if (err != 0) return errno_status("write " + name, err);
  return status::ok();
}

status fault_fs::sync(int fd, bool dir, const std::string& name) {
  std::uint64_t size = 0;
  std::uint64_t gen = 0;  // a directory's: the name changes this sync covers
  {
    std::unique_lock lk(mu_);
    released_.wait(lk, [this] { return !held_; });
    if (dead_) return errno_status("sync " + name, EIO);
    if (sync_err_ != 0) {
      if (drop_on_failed_sync_ && !dir) {
        file& f = track(fd, name);
        if (f.size > f.synced) f.dropped = std::min(f.dropped, f.synced);
      }
      return errno_status("sync " + name, sync_err_);
    }
    ++syncs_;
    if (!dir) size = track(fd, name).size;
    if (dir) gen = name_gen_;
  }
  FERRY_RETURN_IF_ERROR(sync_fd(fd, dir, name));
  std::lock_guard lk(mu_);
  // The power went while the sync ran: it did not finish.
  if (dead_) return errno_status("sync " + name, EIO);
  if (dir) {
    std::erase_if(unsynced_names_, [&](const auto& e) { return e.second.gen <= gen && parent_dir(e.first) == name; });
    std::erase_if(removed_trees_, [&](const removed_tree& t) {
      if (t.gen > gen || parent_dir(t.path) != name) return false;
      std::error_code ec;
      std::filesystem::remove_all(t.aside, ec);
      return true;
    });
  } else {
    auto it = files_.find(name);
    if (it != files_.end()) {
      file& f = it->second;
      f.synced = std::max(f.synced, std::min({size, f.size, f.dropped}));
    }
  }
  return status::ok();
}

status fault_fs::truncate(int fd, std::uint64_t size, const std::string& name) {
  std::lock_guard lk(mu_);
  if (dead_) return errno_status("truncate " + name, EIO);
  file& f = track(fd, name);
  FERRY_RETURN_IF_ERROR(truncate_file(fd, size, name));
  f.size = size;
  f.synced = std::min(f.synced, size);
  if (size <= f.dropped) f.dropped = no_drop;
  return status::ok();
}

status fault_fs::remove(const std::string& path) {
  std::lock_guard lk(mu_);
  if (dead_) return errno_status("unlink " + path, EIO);
  name_changes(path);
  FERRY_RETURN_IF_ERROR(remove_file(path));
  files_.erase(path);
  return status::ok();
}

status fault_fs::rename(const std::string& from, const std::string& to) {
  std::lock_guard lk(mu_);
  if (dead_) return errno_status("rename " + from, EIO);
  name_changes(to);
  name_changes(from);
  FERRY_RETURN_IF_ERROR(file_system::rename(from, to));
  files_.erase(to);
  if (auto it = files_.find(from); it != files_.end()) {
    files_[to] = it->second;
    files_.erase(it);
  }
  return status::ok();
}

status fault_fs::make_dirs(const std::string& path) {
  {
    std::lock_guard lk(mu_);
    if (dead_) return errno_status("mkdir " + path, EIO);
    // The directories it will create, outermost first: new names until their parents are synced.
    std::vector<std::string> missing;
    for (std::string d = path; !d.empty() && d != "/" && d != "." && ::access(d.c_str(), F_OK) != 0;
         d = parent_dir(d)) {
      missing.push_back(d);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) name_changes(*it);
  }
  return file_system::make_dirs(path);  // syncs each new directory's parent through sync()
}

fault_fs::~fault_fs() {
  for (const removed_tree& t : removed_trees_) {  // removed for good: the process outlived them
    std::error_code ec;
    std::filesystem::remove_all(t.aside, ec);
  }
}

status fault_fs::remove_tree(const std::string& path) {
  {
    std::lock_guard lk(mu_);
    if (dead_) return errno_status("remove " + path, EIO);
    removed_tree t{path, "", ++name_gen_};
    t.aside = (std::filesystem::temp_directory_path() /
               ("fault_fs_removed_" + std::to_string(::getpid()) + "_" + std::to_string(t.gen)))
                  .string();
    if (::rename(path.c_str(), t.aside.c_str()) != 0) {
      if (errno == ENOENT) return status::ok();
      if (errno != EXDEV) return errno_status("rename " + path, errno);
      t.aside.clear();  // another file system: removed at once, not modelled
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
    std::erase_if(files_, [&](const auto& f) { return f.first.starts_with(path + "/"); });
    if (!t.aside.empty()) removed_trees_.push_back(std::move(t));
  }
  return sync_directory(parent_dir(path));
}

void fault_fs::fail_writes(int err, std::size_t keep, bool then_die) {
  std::lock_guard lk(mu_);
  write_err_ = err;
  keep_ = keep;
  die_after_write_ = then_die;
}

void fault_fs::fail_syncs(int err, bool drop) {
  std::lock_guard lk(mu_);
  sync_err_ = err;
  drop_on_failed_sync_ = drop;
}

void fault_fs::set_capacity(std::uint64_t bytes) {
  std::lock_guard lk(mu_);
  capacity_ = bytes;
}

void fault_fs::hold_syncs() {
  std::lock_guard lk(mu_);
  held_ = true;
}

void fault_fs::release_syncs() {
  {
    std::lock_guard lk(mu_);
    held_ = false;
  }
  released_.notify_all();
}

void fault_fs::heal() {
  std::lock_guard lk(mu_);
  write_err_ = 0;
  keep_ = 0;
  die_after_write_ = false;
  sync_err_ = 0;
  drop_on_failed_sync_ = false;
}

void fault_fs::power_loss() {
  std::lock_guard lk(mu_);
  dead_ = true;
  for (auto& [name, f] : files_) {
    if (::truncate(name.c_str(), static_cast<off_t>(f.synced)) == 0) f.size = f.synced;
  }
  for (const auto& [name, o] : unsynced_names_) {
    if (!o.existed) {
      std::error_code ec;
      std::filesystem::remove_all(name, ec);  // a new file, or a new directory and all in it
    } else if (auto fd = open_file(name, O_WRONLY | O_CREAT | O_TRUNC); fd.is_ok()) {
      (void)store::write_at(fd->get(), o.content, 0, name);
    }
  }
  unsynced_names_.clear();
  // Newest first: a tree removed inside one removed later goes back into it.
  for (auto t = removed_trees_.rbegin(); t != removed_trees_.rend(); ++t)
    (void)::rename(t->aside.c_str(), t->path.c_str());
  removed_trees_.clear();
}

std::uint64_t fault_fs::used() const {
  std::lock_guard lk(mu_);
  return used_locked();
}

std::uint64_t fault_fs::writes() const {
  std::lock_guard lk(mu_);
  return writes_;
}

std::uint64_t fault_fs::syncs() const {
  std::lock_guard lk(mu_);
  return syncs_;
}

}  // namespace ferry::store::testing
