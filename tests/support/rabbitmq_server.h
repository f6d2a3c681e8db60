// rabbitmq_server: Debian's rabbitmq-server for a test: a node of its own (its name, ports, data
// and logs in one directory, no plugins, the guest user allowed from loopback), with its own epmd
// on a free port, never a system instance. Starting takes several seconds (Erlang boots).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "process.h"

namespace ferry::test {

class rabbitmq_server {
 public:
  ~rabbitmq_server();
  // True when rabbitmq-server and epmd are installed.
  static bool available();
  // Starts the node with its files in `dir`; false if it did not come up (its log is in dir/log).
  bool start(const std::string& dir);
  // SIGKILL to the node's whole process group, as a crash; start_again() runs it on the same
  // ports and data.
  void kill() { node_.kill(); }
  bool start_again();
  // Runs rabbitmqctl against the node with `args` (each one word, no quoting); true on exit 0.
  // Its output goes to dir/log/ctl.out.
  bool ctl(const std::vector<std::string>& args) const;
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int port() const { return port_; }

 private:
  child_process epmd_;
  child_process node_;
  std::string dir_;
  std::string node_name_;
  int port_ = 0;
  int epmd_port_ = 0;
};

}  // namespace ferry::test
