// redis_server: Debian's redis-server for a test, on a free loopback port in a directory of its own
// (durable: the append-only file on and every write fsynced; else in memory only; never RDB
// snapshots), never a system instance.
#pragma once

#include <chrono>
#include <string>

#include "process.h"

namespace ferry::test {

class redis_server {
 public:
  ~redis_server() { proc_.stop(std::chrono::seconds(2)); }
  // Starts redis-server with its files in `dir`; false if it is missing or did not come up.
  bool start(const std::string& dir, bool durable = true);
  // SIGKILL, as a crash; start_again() runs it on the same port and directory (its AOF).
  void kill() { proc_.kill(); }
  bool start_again();
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int port() const { return port_; }

 private:
  child_process proc_;
  std::string dir_;
  bool durable_ = true;
  int port_ = 0;
};

}  // namespace ferry::test
