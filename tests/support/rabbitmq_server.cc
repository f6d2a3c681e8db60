#include "rabbitmq_server.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "raw_client.h"

namespace ferry::test {
namespace {

constexpr const char* server_script = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr const char* ctl_script = "/usr/lib/rabbitmq/bin/rabbitmqctl";

}  // namespace

bool rabbitmq_server::available() { return ::access(server_script, X_OK) == 0 && have_program("epmd"); }

rabbitmq_server::~rabbitmq_server() {
  node_.stop(std::chrono::seconds(10));
  epmd_.stop(std::chrono::seconds(2));
}

bool rabbitmq_server::start(const std::string& dir) {
  if (!available()) return false;
  dir_ = dir;
  port_ = free_port();
  const int dist_port = free_port();
  const int epmd_port = epmd_port_ = free_port();
  std::filesystem::create_directories(dir + "/log");
  std::ofstream(dir + "/enabled_plugins") << "[].\n";
  std::ofstream(dir + "/rabbitmq.conf") << "listeners.tcp.default = 127.0.0.1:" << port_ << "\n"
                                        << "loopback_users = none\n"
                                        << "log.console = false\nlog.file.level = info\n";
  const std::string node = node_name_ = "ferrytest" + std::to_string(port_) + "@localhost";
  if (!epmd_.start({"epmd", "-port", std::to_string(epmd_port), "-address", "127.0.0.1"}, dir + "/log/epmd.log") ||
      !epmd_.wait_for_port(epmd_port, std::chrono::seconds(10))) {
    return false;
  }
  node_.set_own_group(true);
  node_.set_environment(
      {"HOME=" + dir, "RABBITMQ_NODENAME=" + node, "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
       "RABBITMQ_NODE_PORT=" + std::to_string(port_), "RABBITMQ_DIST_PORT=" + std::to_string(dist_port),
       "ERL_EPMD_PORT=" + std::to_string(epmd_port), "RABBITMQ_MNESIA_BASE=" + dir + "/mnesia",
       "RABBITMQ_LOG_BASE=" + dir + "/log", "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir + "/enabled_plugins",
       "RABBITMQ_CONFIG_FILE=" + dir + "/rabbitmq.conf", "RABBITMQ_PID_FILE=" + dir + "/pid",
       "ERL_CRASH_DUMP=" + dir + "/log/erl_crash.dump"});
  return start_again();
}

bool rabbitmq_server::start_again() {
  return node_.start({server_script}, dir_ + "/log/server.out") && node_.wait_for_port(port_, std::chrono::seconds(90));
}

bool rabbitmq_server::ctl(const std::vector<std::string>& args) const {
  std::string command = "env HOME=" + dir_ + " RABBITMQ_NODENAME=" + node_name_ +
                        " ERL_EPMD_PORT=" + std::to_string(epmd_port_) + " " + ctl_script + " -n " + node_name_;
  for (const std::string& a : args) command += " '" + a + "'";
  return std::system((command + " >>" + dir_ + "/log/ctl.out 2>&1").c_str()) == 0;
}

}  // namespace ferry::test
