// Raw-socket conformance for auth, permissions, limits, keepalive and slow consumers.
#include <gtest/gtest.h>

#include <thread>

#include "server_fixture.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

TEST(Auth, TokenRequired) {
  broker::server_options o;
  o.auth.token = "s3cret";
  auto s = start_server(o);
  {
    auto c = client(*s);
    ASSERT_TRUE(c.send("PING\r\n"));
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(c.buffer(), "-ERR 'Authorization Violation'\r\n");
  }
  {
    auto c = client(*s);
    ASSERT_TRUE(c.send("CONNECT {\"auth_token\":\"nope\"}\r\nPING\r\n"));
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(c.buffer(), "-ERR 'Authorization Violation'\r\n");
  }
  {
    auto c = client(*s);
    ASSERT_TRUE(c.send("CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\nPING\r\n"));
    ASSERT_TRUE(c.read_until("PONG\r\n"));
    EXPECT_EQ(c.take(), "PONG\r\n");
  }
}

TEST(Auth, UserPasswordAndAccountField) {
  broker::server_options o;
  o.auth.users = {{"alice", "pw", std::nullopt}};
  auto s = start_server(o);
  auto ok = client(*s);
  ASSERT_TRUE(ok.send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\nPING\r\n"));
  EXPECT_TRUE(ok.read_until("PONG\r\n"));
  auto bad = client(*s);
  ASSERT_TRUE(bad.send("CONNECT {\"user\":\"alice\",\"pass\":\"wrong\"}\r\n"));
  EXPECT_TRUE(bad.wait_closed());
  EXPECT_EQ(bad.buffer(), "-ERR 'Authorization Violation'\r\n");
  auto acct = client(*s);
  ASSERT_TRUE(acct.send("CONNECT {\"user\":\"alice\",\"pass\":\"pw\",\"account\":\"A\"}\r\n"));
  EXPECT_TRUE(acct.wait_closed());
  EXPECT_EQ(acct.buffer(), "-ERR 'Authorization Violation'\r\n");
}

TEST(Auth, Timeout) {
  broker::server_options o;
  o.auth.token = "t";
  o.auth.timeout = 300ms;
  auto s = start_server(o);
  auto c = client(*s);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_closed(3s));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(c.buffer(), "-ERR 'Authentication Timeout'\r\n");
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(Permissions, ViolationsAndTheConnectionStaysOpen) {
  broker::server_options o;
  broker::permissions p;
  p.publish.allow = {"orders.>", "_INBOX.>"};
  p.publish.deny = {"orders.secret"};
  p.subscribe.allow = {"orders.>", "_INBOX.>", "jobs.* workers"};
  p.subscribe.deny = {"orders.secret"};
  o.auth.users = {{"app", "pw", p}};
  auto s = start_server(o);
  auto c = client(*s, R"({"verbose":false,"user":"app","pass":"pw"})");
  ASSERT_TRUE(
      c.send("PUB payments.x 1\r\nx\r\nPUB orders.secret 1\r\nx\r\nSUB payments.> 1\r\n"
             "SUB orders.secret 2\r\nSUB jobs.a others 3\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(),
            "-ERR 'Permissions Violation for Publish to \"payments.x\"'\r\n"
            "-ERR 'Permissions Violation for Publish to \"orders.secret\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"payments.>\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"orders.secret\"'\r\n"
            "-ERR 'Permissions Violation for Subscription to \"jobs.a\" using queue \"others\"'\r\n"
            "PONG\r\n");
  // Allowed operations still work on the same connection; the wildcard subscription that
  // overlaps the deny list does not receive the denied subject.
  ASSERT_TRUE(c.send("SUB orders.> 5\r\nSUB jobs.a workers 6\r\nPUB orders.new 2\r\nok\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG orders.new 5 2\r\nok\r\nPONG\r\n");
}

TEST(Permissions, DenyFilterOnWildcardDelivery) {
  broker::server_options o;
  broker::permissions watcher;
  watcher.subscribe.deny = {"secret.>"};
  o.auth.users = {{"w", "pw", watcher}, {"pub", "pw", std::nullopt}};
  auto s = start_server(o);
  auto w = client(*s, R"({"verbose":false,"user":"w","pass":"pw"})");
  auto pub = client(*s, R"({"verbose":false,"user":"pub","pass":"pw"})");
  ASSERT_TRUE(w.send("SUB > 1\r\nPING\r\n") && w.read_until("PONG\r\n"));
  w.take();
  ASSERT_TRUE(pub.send("PUB secret.plan 1\r\nx\r\nPUB public.news 1\r\ny\r\nPING\r\n") && pub.read_until("PONG\r\n"));
  ASSERT_TRUE(w.read_until("public.news"));
  EXPECT_EQ(w.take(), "MSG public.news 1 1\r\ny\r\n");
}

TEST(Limits, MaxConnections) {
  broker::server_options o;
  o.max_connections = 1;
  auto s = start_server(o);
  auto first = client(*s, quiet);
  raw_client second;
  ASSERT_TRUE(second.connect(s->port()));  // INFO comes first, as nats-server sends it
  EXPECT_TRUE(second.wait_closed());
  EXPECT_EQ(second.buffer(), "-ERR 'maximum connections exceeded'\r\n");
  ASSERT_TRUE(first.send("PING\r\n") && first.read_until("PONG\r\n"));
}

TEST(Limits, MaxSubscriptions) {
  broker::server_options o;
  o.max_subscriptions = 2;
  auto s = start_server(o);
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPUB c 1\r\nx\r\nPUB a 1\r\ny\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 1\r\ny\r\nPONG\r\n");
}

TEST(Keepalive, StaleConnection) {
  broker::server_options o;
  o.ping_interval = 200ms;
  o.ping_max = 2;
  auto s = start_server(o);
  auto c = client(*s, quiet);
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(c.buffer(), "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
}

TEST(Keepalive, AnsweredPingsKeepTheConnection) {
  broker::server_options o;
  o.ping_interval = 100ms;
  o.ping_max = 2;
  auto s = start_server(o);
  auto c = client(*s, quiet);
  int pings = 0;
  auto end = std::chrono::steady_clock::now() + 800ms;
  while (std::chrono::steady_clock::now() < end) {
    if (c.read_until("PING\r\n", 300ms)) {
      ++pings;
      c.take();
      ASSERT_TRUE(c.send("PONG\r\n"));
    }
  }
  EXPECT_FALSE(c.closed());
  EXPECT_GE(pings, 3);
}

TEST(SlowConsumer, IsCutOffAndOthersAreNot) {
  broker::server_options o;
  o.max_pending = 4 << 20;
  o.max_payload = 64 * 1024;
  auto s = start_server(o);
  auto slow = client(*s, quiet);
  auto fast = client(*s, quiet);
  ASSERT_TRUE(slow.send("SUB flood 1\r\nPING\r\n") && slow.read_until("PONG\r\n"));
  ASSERT_TRUE(fast.send("SUB flood 1\r\nPING\r\n") && fast.read_until("PONG\r\n"));
  slow.take();
  fast.take();
  // The slow client never reads again; the fast one drains continuously.
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> fast_bytes{0};
  std::thread drain([&] {
    while (!stop) fast_bytes += fast.read_for(10ms).size();
  });
  auto pub = client(*s, quiet);
  const std::string payload(4 * 1024, 'x');
  const std::string frame = "PUB flood " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += frame;
  // 64 KiB per 5 ms (about 12 MB/s at most): within seconds more than the slow client's socket
  // buffers and max_pending hold, and well within what the draining client reads even on a
  // loaded 2-core machine under ASan (a 250 ms stall of the drain thread still fits in its
  // socket buffers; at 50 MB/s the fast client was itself cut off in CI).
  for (int round = 0; round < 4000 && s->stats().slow_consumers == 0; ++round) {
    ASSERT_TRUE(pub.send(batch));
    std::this_thread::sleep_for(5ms);
  }
  // Keep publishing for a while after the cut: the fast subscriber must keep up.
  for (int round = 0; round < 100; ++round) {
    ASSERT_TRUE(pub.send(batch));
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(pub.send("PING\r\n"));
  EXPECT_TRUE(pub.read_until("PONG\r\n", 10s)) << "the publisher keeps working";
  stop = true;
  drain.join();
  EXPECT_EQ(s->stats().slow_consumers, 1u);
  EXPECT_GT(fast_bytes.load(), 1u << 20);
  // Nothing is written to a slow consumer's socket after the cut: it only sees EOF once its
  // receive buffer is drained.
  std::string rest;
  for (int i = 0; i < 200 && !slow.closed(); ++i) rest += slow.read_for(20ms);
  EXPECT_TRUE(slow.closed());
  EXPECT_EQ(rest.find("-ERR"), std::string::npos) << "nats-server sends no -ERR to a slow consumer";
}

}  // namespace
}  // namespace ferry::test
