// postgres_server: Debian's PostgreSQL (postgresql-15) for a test: initdb in a directory of its
// own, the server on a free loopback port (and its Unix socket in that directory), trust
// authentication for user `ferry`, stopped with the test; never a system instance. PostgreSQL
// refuses to run as root, so under root it runs as the `postgres` user the package creates.
#pragma once

#include <chrono>
#include <string>

#include "process.h"

namespace ferry::test {

class postgres_server {
 public:
  // Stops the server and removes its directory (a cluster takes about 350 MB: left behind, every
  // test run filled /tmp further), unless FERRY_KEEP_TEST_DIRS is set or it never came up.
  ~postgres_server();
  // Starts a fresh cluster in `dir`; false (and why) if PostgreSQL is missing or did not come up.
  // `durable`: fsync on (benchmarks); off for tests, which never crash the server itself.
  bool start(const std::string& dir, std::string* why, bool durable = false);
  // A libpq connection string for database `postgres`.
  [[nodiscard]] std::string conninfo() const;
  [[nodiscard]] int port() const { return port_; }
  // The directory of PostgreSQL's programs ("" when not installed).
  static std::string bin_dir();

 private:
  child_process proc_;
  std::string dir_;
  int port_ = 0;
  bool up_ = false;
};

}  // namespace ferry::test
