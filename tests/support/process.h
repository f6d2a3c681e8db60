// child_process: starts a server binary for a test and stops it, so integration tests can run
// ferryd and Debian's nats-server side by side.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace ferry::test {

class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  // Starts `argv[0]` (looked up in PATH) with its output appended to `log_file` (or discarded).
  // With `input`, the child's standard input is a pipe that send() writes to.
  bool start(const std::vector<std::string>& argv, const std::string& log_file = "", bool input = false);
  // Before start(): `NAME=value` strings added to the child's environment, and whether the child
  // leads a process group of its own that stop() and kill() signal as a whole (a server started
  // by a shell script that forks it).
  void set_environment(std::vector<std::string> extra) { env_ = std::move(extra); }
  void set_own_group(bool own) { own_group_ = own; }
  // Writes `line` and a newline to the child's standard input (started with `input`).
  bool send(const std::string& line);
  // Waits until 127.0.0.1:port accepts connections; false on timeout or if the child exited.
  bool wait_for_port(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGTERM, then SIGKILL after `grace`. Returns the exit status (or -1).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // SIGKILL at once (crash tests).
  void kill();
  [[nodiscard]] bool running() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  void close_input();
  void signal(int sig) const;
  pid_t pid_ = -1;
  int input_ = -1;  // write end of the child's stdin pipe
  std::vector<std::string> env_;
  bool own_group_ = false;
};

// The ferryd binary under test: $FERRYD, else this build's (build/bin/ferryd).
std::string ferryd_path();
// A program of this build: $<env>, else `name` next to this test binary (a test's helper, in
// build/tests), else in build/bin (ferryd, ferry, ferry-kafka-mock).
std::string program_path(const std::string& name, const char* env);
// True if `name` is an executable on PATH.
bool have_program(const std::string& name);
// A fresh temporary directory (removed by the caller if wanted).
// The whole file at `p` ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string make_temp_dir(const std::string& prefix);

}  // namespace ferry::test
