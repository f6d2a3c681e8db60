#include "redis_server.h"

#include "raw_client.h"

namespace ferry::test {

bool redis_server::start(const std::string& dir, bool durable) {
  if (!have_program("redis-server")) return false;
  dir_ = dir;
  durable_ = durable;
  port_ = free_port();
  return start_again();
}

bool redis_server::start_again() {
  return proc_.start(
             {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir_, "--appendonly",
              durable_ ? "yes" : "no", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--logfile", ""},
             dir_ + "/redis.log") &&
         proc_.wait_for_port(port_, std::chrono::seconds(20));
}

}  // namespace ferry::test
