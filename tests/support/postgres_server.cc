#include "postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "raw_client.h"

namespace ferry::test {

namespace fs = std::filesystem;

std::string postgres_server::bin_dir() {
  std::string best;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = e.path() / "bin";
    if (fs::exists(bin / "postgres") && fs::exists(bin / "initdb") && bin.string() > best) best = bin.string();
  }
  return best;
}

postgres_server::~postgres_server() {
  proc_.stop(std::chrono::seconds(5));
  // A server that did not come up keeps its directory: its log says why.
  if (!up_ || std::getenv("FERRY_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool postgres_server::start(const std::string& dir, std::string* why, bool durable) {
  const std::string bin = bin_dir();
  if (bin.empty()) {
    *why = "PostgreSQL is not installed (Debian postgresql-15; make deps installs it)";
    return false;
  }
  dir_ = dir;
  std::vector<std::string> as_user;  // the prefix that runs a program as `postgres` under root
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      *why = "running as root and there is no postgres user to run PostgreSQL as";
      return false;
    }
    if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      *why = "chown " + dir + " failed";
      return false;
    }
    as_user = {"setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"};
  }
  std::string prefix;
  for (const auto& a : as_user) prefix += a + " ";
  const std::string data = dir + "/data";
  const std::string initdb = prefix + bin + "/initdb -D " + data +
                             " -U ferry --auth=trust -E UTF8 --no-sync --no-instructions >" + dir + "/initdb.log 2>&1";
  if (std::system(initdb.c_str()) != 0) {
    *why = "initdb failed; see " + dir + "/initdb.log";
    return false;
  }
  port_ = free_port();
  std::vector<std::string> argv = as_user;
  for (const std::string& a :
       {bin + "/postgres", std::string("-D"), data, std::string("-p"), std::to_string(port_), std::string("-k"), dir,
        std::string("-c"), std::string("listen_addresses=127.0.0.1"), std::string("-c"),
        std::string("max_connections=200"), std::string("-c"), std::string(durable ? "fsync=on" : "fsync=off"),
        std::string("-c"), std::string(durable ? "synchronous_commit=on" : "synchronous_commit=off"), std::string("-c"),
        std::string("full_page_writes=off")}) {
    argv.push_back(a);
  }
  if (!proc_.start(argv, dir + "/postgres.log")) {
    *why = "could not start " + bin + "/postgres";
    return false;
  }
  // The port opens before recovery ends: wait until the server accepts connections.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(conninfo().c_str()) == PQPING_OK) return up_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *why = "PostgreSQL did not accept connections within 30 s; see " + dir + "/postgres.log";
  return false;
}

std::string postgres_server::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=ferry dbname=postgres connect_timeout=5";
}

}  // namespace ferry::test
