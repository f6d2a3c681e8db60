// Scale: 10,000 concurrent connections and 100,000 subscriptions on one ferryd process, with
// the server's resident memory recorded (printed as a "scale:" line that docs/benchmarks.md
// quotes) and bounded.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <random>

#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(Scale, TenThousandConnectionsAndHundredThousandSubscriptions) {
  constexpr int conns = 10000;
  constexpr int subs_per_conn = 10;  // 100,000 subscriptions in all
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < conns + 200) {
    GTEST_SKIP() << "needs " << conns + 200 << " file descriptors per process; the hard limit here is " << rl.rlim_max;
  }
  child_process srv;
  const int port = free_port();
  const std::string dir = make_temp_dir("ferry-scale-");
  ASSERT_TRUE(srv.start({ferryd_path(), "-a", "127.0.0.1", "-p", std::to_string(port)}, dir + "/ferryd.log"));
  ASSERT_TRUE(srv.wait_for_port(port));
  const long rss_idle = rss_kib(srv.pid());

  std::vector<raw_client> clients(conns);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < conns; ++i) {
    ASSERT_TRUE(clients[static_cast<std::size_t>(i)].connect(port, false)) << "connection " << i;
    std::string cmds = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    for (int k = 0; k < subs_per_conn; ++k) {
      cmds += "SUB scale." + std::to_string(i) + "." + std::to_string(k) + " " + std::to_string(k + 1) + "\r\n";
    }
    cmds += "PING\r\n";
    ASSERT_TRUE(clients[static_cast<std::size_t>(i)].send(cmds));
  }
  for (int i = 0; i < conns; ++i) {
    ASSERT_TRUE(clients[static_cast<std::size_t>(i)].read_until("PONG\r\n", 30s)) << "connection " << i;
    clients[static_cast<std::size_t>(i)].take();
  }
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long rss_loaded = rss_kib(srv.pid());

  // Deliveries still go to exactly the right connection and sid.
  raw_client pub;
  ASSERT_TRUE(pub.connect(port));
  ASSERT_TRUE(pub.handshake());
  std::mt19937 rng(42);
  for (int probe = 0; probe < 200; ++probe) {
    const int i = static_cast<int>(rng() % conns);
    const int k = static_cast<int>(rng() % subs_per_conn);
    const std::string subject = "scale." + std::to_string(i) + "." + std::to_string(k);
    ASSERT_TRUE(pub.send("PUB " + subject + " 2\r\nok\r\n"));
    auto& c = clients[static_cast<std::size_t>(i)];
    const std::string want = "MSG " + subject + " " + std::to_string(k + 1) + " 2\r\nok\r\n";
    ASSERT_TRUE(c.read_until(want, 5s)) << subject;
    c.take();
  }
  const long per_conn = (rss_loaded - rss_idle) * 1024 / conns;
  std::printf(
      "scale: %d connections, %d subscriptions, setup %.2fs, ferryd RSS idle %.1f MiB, loaded %.1f MiB "
      "(%ld bytes per connection with %d subscriptions)\n",
      conns, conns * subs_per_conn, setup_s, rss_idle / 1024.0, rss_loaded / 1024.0, per_conn, subs_per_conn);
  // A generous bound that still catches a per-connection blowup (e.g. 64 KiB buffers each).
  EXPECT_LT(rss_loaded, 512L * 1024) << "ferryd used more than 512 MiB for 10k connections";

  clients.clear();
  EXPECT_EQ(srv.stop(), 0) << "ferryd exits cleanly on SIGTERM";
}

}  // namespace
}  // namespace ferry::test
