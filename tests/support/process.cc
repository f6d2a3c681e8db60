#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "raw_client.h"

extern char** environ;

namespace ferry::test {

bool child_process::start(const std::vector<std::string>& argv, const std::string& log_file, bool input) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int pipe_fds[2] = {-1, -1};
  if (input && ::pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = log_file.empty() ? "/dev/null" : log_file;
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (input) posix_spawn_file_actions_adddup2(&fa, pipe_fds[0], 0);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const auto& e : env_) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (own_group_) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), env.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (input) ::close(pipe_fds[0]);
  if (rc != 0) {
    if (input) ::close(pipe_fds[1]);
    return false;
  }
  close_input();
  input_ = pipe_fds[1];
  pid_ = pid;
  return true;
}

bool child_process::send(const std::string& line) {
  if (input_ < 0) return false;
  ::signal(SIGPIPE, SIG_IGN);  // a child that died makes write() fail, not this process
  const std::string data = line + "\n";
  return ::write(input_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

void child_process::close_input() {
  if (input_ >= 0) ::close(input_);
  input_ = -1;
}

bool child_process::wait_for_port(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    raw_client c;
    if (c.connect(port, false)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int child_process::stop(std::chrono::milliseconds grace) {
  close_input();
  if (pid_ <= 0) return -1;
  signal(SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  signal(SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

void child_process::signal(int sig) const { ::kill(own_group_ ? -pid_ : pid_, sig); }

void child_process::kill() {
  close_input();
  if (pid_ <= 0) return;
  signal(SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ferryd_path() { return program_path("ferryd", "FERRYD"); }

std::string program_path(const std::string& name, const char* env) {
  if (const char* v = std::getenv(env)) return v;
  // A helper of the tests lies beside the test binary (build/tests); a program in build/bin.
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    const auto beside = std::filesystem::path(self).parent_path() / name;
    if (std::filesystem::exists(beside)) return beside.string();
  }
  return (std::filesystem::path(FERRY_PROGRAM_DIR) / name).string();
}

bool have_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string p = path;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  char* d = ::mkdtemp(tmpl.data());
  return d != nullptr ? std::string(d) : std::string();
}

}  // namespace ferry::test
