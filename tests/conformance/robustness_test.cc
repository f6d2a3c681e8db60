// Robustness: thousands of misbehaving connections (random bytes, half frames, abrupt resets,
// connect-and-vanish) must not crash the server, leak connections, or disturb a well-behaved
// client. Runs under ASan+UBSan (with leak detection) in `make test`.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <random>
#include <thread>

#include "server_fixture.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  static const std::string pieces[] = {"PUB ", "SUB ", "UNSUB ", "HPUB ", "CONNECT ", "PING",  "PONG", "MSG ",
                                       "\r\n", "\n",   " ",      "\t",    "foo",      ".",     "*",    ">",
                                       "1",    "12",   "99999",  "{",     "}",        "-ERR ", "+OK",  "NATS/1.0\r\n",
                                       "\"",   "\x00", "\xff"};
  std::string s;
  while (s.size() < n) {
    if (rng() % 3 == 0) {
      s += static_cast<char>(rng() % 256);
    } else {
      s += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
    }
  }
  return s;
}

TEST(Robustness, GarbageConnections) {
  broker::server_options o;
  o.max_payload = 4096;
  o.max_pending = 1 << 20;
  auto s = start_server(o);
  auto good = client(*s, quiet);
  ASSERT_TRUE(good.send("SUB ok 1\r\nPING\r\n") && good.read_until("PONG\r\n"));
  good.take();

  std::mt19937 rng(7);
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    raw_client c;
    if (!c.connect(s->port(), i % 4 != 0)) continue;
    switch (i % 5) {
      case 0:  // random bytes, then close
        c.send(random_bytes(rng, 1 + rng() % 512));
        break;
      case 1:  // a half frame, then vanish
        c.send("CONNECT {}\r\nPUB foo 100\r\nabc");
        break;
      case 2: {  // abrupt reset
        linger l{1, 0};
        c.send("SUB foo 1\r\n");
        setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
      }
      case 3:  // valid session with many subscriptions, closed without UNSUB
        c.send("CONNECT {\"verbose\":false}\r\nSUB a.* 1\r\nSUB a.> 2\r\nSUB b q 3\r\nPUB a.x 2\r\nhi\r\n");
        break;
      default:  // connect and say nothing
        break;
    }
    // Every 100 connections, check that the good client is unaffected.
    if (i % 100 == 99) {
      ASSERT_TRUE(good.send("PUB ok 1\r\nx\r\nPING\r\n"));
      ASSERT_TRUE(good.read_until("PONG\r\n", 5s)) << "after " << i << " garbage connections";
      ASSERT_EQ(good.take(), "MSG ok 1 1\r\nx\r\nPONG\r\n");
    }
  }
  // Every garbage connection is gone and none of their subscriptions is left behind.
  for (int i = 0; i < 300 && s->stats().connections > 1; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s->stats().connections, 1u);
  EXPECT_EQ(s->stats().subscriptions, 1u);
  EXPECT_GE(s->stats().total_connections, static_cast<std::uint64_t>(n));
}

}  // namespace
}  // namespace ferry::test
