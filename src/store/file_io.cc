#include "store/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>

#include "store/store.h"

namespace ferry::store {

namespace {

std::string describe(std::string_view verb, std::string_view what) {
  std::string s(verb);
  s += ' ';
  s += what;
  return s;
}

}  // namespace

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

void unique_fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

result<unique_fd> open_file(const std::string& path, int flags, unsigned mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return not_found(path);
    return errno_status(describe("open", path), errno);
  }
  return unique_fd(fd);
}

status write_at(int fd, std::string_view data, std::uint64_t offset, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(describe("write", what), errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return status::ok();
}

status read_at(int fd, char* dst, std::size_t n, std::uint64_t offset, std::string_view what) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, dst, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_status(describe("read", what), errno);
    }
    if (r == 0) return data_loss(describe("short read of", what));
    dst += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return status::ok();
}

status read_all(int fd, std::uint64_t size, std::string& out, std::string_view what) {
  out.resize(size);
  return read_at(fd, out.data(), size, 0, what);
}

result<std::uint64_t> file_size(int fd, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_status(describe("stat", what), errno);
  return static_cast<std::uint64_t>(st.st_size);
}

status truncate_file(int fd, std::uint64_t size, std::string_view what) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return errno_status(describe("truncate", what), errno);
  return status::ok();
}

status sync_fd(int fd, bool dir, std::string_view what) {
  const int r = dir ? ::fsync(fd) : ::fdatasync(fd);
  if (r != 0) return errno_status(describe("sync", what), errno);
  return status::ok();
}

status sync_dir(const std::string& dir) {
  FERRY_ASSIGN_OR_RETURN(unique_fd fd, open_file(dir, O_RDONLY | O_DIRECTORY));
  return sync_fd(fd.get(), true, dir);
}

namespace {

// Creates `path` and its missing parents; `created` gets each directory this call made.
status create_dirs(const std::string& path, std::vector<std::string>* created) {
  if (path.empty()) return invalid_argument("empty directory name");
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string part = path.substr(0, pos);
    if (part.empty() || part == ".") continue;
    if (::mkdir(part.c_str(), 0755) == 0) {
      if (created != nullptr) created->push_back(part);
    } else if (errno != EEXIST) {
      return errno_status(describe("mkdir", part), errno);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_status(describe("stat", path), errno);
  if (!S_ISDIR(st.st_mode)) return io_error(path + " is not a directory");
  return status::ok();
}

}  // namespace

status make_dirs(const std::string& path) { return create_dirs(path, nullptr); }

status file_system::remove_tree(const std::string& path) {
  std::error_code ec;
  const auto removed = std::filesystem::remove_all(path, ec);
  if (ec) return io_error("removing " + path + ": " + ec.message());
  if (removed == 0) return status::ok();  // nothing was there (an ephemeral consumer's)
  return sync_directory(parent_dir(path));
}

status file_system::sync_directory(const std::string& dir) {
  FERRY_ASSIGN_OR_RETURN(unique_fd fd, open_file(dir, O_RDONLY | O_DIRECTORY));
  return sync(fd.get(), true, dir);
}

status file_system::make_dirs(const std::string& path) {
  std::vector<std::string> created;
  FERRY_RETURN_IF_ERROR(create_dirs(path, &created));
  for (const std::string& d : created) FERRY_RETURN_IF_ERROR(sync_directory(parent_dir(d)));
  return status::ok();
}

result<std::vector<std::string>> list_dir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return errno_status(describe("opendir", dir), errno);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) return errno_status(describe("readdir", dir), errno);
  return names;
}

status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status(describe("unlink", path), errno);
  return status::ok();
}

file_system& posix_fs() {
  static file_system fs;
  return fs;
}

std::string parent_dir(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

result<unique_fd> file_system::create(const std::string& path, int flags) { return open_file(path, flags | O_CREAT); }

status file_system::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_status(describe("rename", from), errno);
  return status::ok();
}

status write_file_atomic(file_system& fs, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    FERRY_ASSIGN_OR_RETURN(unique_fd fd, fs.create(tmp, O_WRONLY | O_TRUNC));
    FERRY_RETURN_IF_ERROR(fs.write_at(fd.get(), data, 0, tmp));
    FERRY_RETURN_IF_ERROR(fs.sync(fd.get(), false, tmp));
  }
  if (status s = fs.rename(tmp, path); !s.is_ok()) {
    (void)::unlink(tmp.c_str());  // the rename's error is the one to report; a leftover is rewritten
    return s;
  }
  return fs.sync_directory(parent_dir(path));
}

status write_file_atomic(const std::string& path, std::string_view data) {
  return write_file_atomic(posix_fs(), path, data);
}

result<std::string> read_file(const std::string& path) {
  FERRY_ASSIGN_OR_RETURN(unique_fd fd, open_file(path, O_RDONLY));
  FERRY_ASSIGN_OR_RETURN(std::uint64_t size, file_size(fd.get(), path));
  std::string out;
  // A file may change size while it is read; read until the end rather than trusting stat.
  out.resize(size);
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() + 4096);
    const ssize_t r = ::read(fd.get(), out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_status(describe("read", path), errno);
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

}  // namespace ferry::store
