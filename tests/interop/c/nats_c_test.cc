// Interop with nats.c (Debian's libnats, a client we did not write) against an embedded
// ferryd: every behaviour listed in tests/interop/README.md.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "broker/server.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

std::string certs_dir() {
  static const std::string dir = [] {
    const char* env = std::getenv("FERRY_CERTS");
    std::string d = env != nullptr ? env : "/tmp/ferry-nats-c-certs";
    std::string cmd = "bash " + std::string(FERRY_SOURCE_DIR) + "/tests/interop/make_certs.sh " + d;
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return d;
  }();
  return dir;
}

struct server_holder {
  std::unique_ptr<broker::server> srv;
  broker::server_options opts;
  void start(broker::server_options o) {
    opts = std::move(o);
    opts.port = free_port();  // restart() reuses it
    spdlog::set_level(spdlog::level::off);
    auto s = broker::server::start(opts);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    srv = std::move(*s);
  }
  void stop() { srv.reset(); }
  void restart() {
    stop();
    auto s = broker::server::start(opts);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    srv = std::move(*s);
  }
  std::string url() const { return srv->client_url(); }
};

using conn_ptr = std::unique_ptr<natsConnection, void (*)(natsConnection*)>;
using sub_ptr = std::unique_ptr<natsSubscription, void (*)(natsSubscription*)>;
using msg_ptr = std::unique_ptr<natsMsg, void (*)(natsMsg*)>;

struct options {
  natsOptions* o = nullptr;
  explicit options(const std::string& url) {
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetTimeout(o, 2000);
  }
  ~options() { natsOptions_Destroy(o); }
};

conn_ptr connect(natsOptions* o, natsStatus* st = nullptr) {
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, o);
  if (st != nullptr) *st = s;
  return conn_ptr(s == NATS_OK ? nc : nullptr, natsConnection_Destroy);
}

conn_ptr connect(const std::string& url) {
  options o(url);
  auto c = connect(o.o);
  EXPECT_NE(c, nullptr) << nats_GetLastError(nullptr);
  return c;
}

sub_ptr sub_sync(natsConnection* nc, const char* subject, const char* queue = nullptr) {
  natsSubscription* s = nullptr;
  natsStatus st = queue ? natsConnection_QueueSubscribeSync(&s, nc, subject, queue)
                        : natsConnection_SubscribeSync(&s, nc, subject);
  EXPECT_EQ(st, NATS_OK);
  natsSubscription_SetPendingLimits(s, -1, -1);
  return sub_ptr(s, natsSubscription_Destroy);
}

msg_ptr next(natsSubscription* s, int64_t ms = 2000) {
  natsMsg* m = nullptr;
  natsStatus st = natsSubscription_NextMsg(&m, s, ms);
  return msg_ptr(st == NATS_OK ? m : nullptr, natsMsg_Destroy);
}

std::string data_of(natsMsg* m) { return std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))); }

class NatsC : public ::testing::Test {
 protected:
  void SetUp() override { server.start({}); }
  server_holder server;
};

TEST_F(NatsC, PubSubAndWildcards) {
  auto nc = connect(server.url());
  auto exact = sub_sync(nc.get(), "orders.new");
  auto star = sub_sync(nc.get(), "orders.*");
  auto gt = sub_sync(nc.get(), "orders.>");
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "orders.new", "a"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "orders.eu.new", "b"), NATS_OK);
  auto m1 = next(exact.get());
  ASSERT_TRUE(m1);
  EXPECT_EQ(data_of(m1.get()), "a");
  auto m2 = next(star.get());
  ASSERT_TRUE(m2);
  EXPECT_EQ(data_of(m2.get()), "a");
  auto m3 = next(gt.get());
  auto m4 = next(gt.get());
  ASSERT_TRUE(m3 && m4);
  EXPECT_EQ(data_of(m3.get()) + data_of(m4.get()), "ab");
  EXPECT_FALSE(next(star.get(), 100)) << "orders.* must not match orders.eu.new";
  EXPECT_FALSE(next(exact.get(), 100));
}

TEST_F(NatsC, QueueGroupDeliversEachMessageToExactlyOneMember) {
  auto a = connect(server.url());
  auto b = connect(server.url());
  auto p = connect(server.url());
  auto qa = sub_sync(a.get(), "work", "workers");
  auto qb = sub_sync(b.get(), "work", "workers");
  auto plain = sub_sync(p.get(), "work");
  natsConnection_Flush(a.get());
  natsConnection_Flush(b.get());
  natsConnection_Flush(p.get());
  auto pub = connect(server.url());
  const int n = 300;
  for (int i = 0; i < n; ++i) natsConnection_PublishString(pub.get(), "work", std::to_string(i).c_str());
  ASSERT_EQ(natsConnection_Flush(pub.get()), NATS_OK);
  std::multiset<std::string> seen;
  int from_a = 0;
  int from_b = 0;
  for (;;) {
    auto m = next(qa.get(), 200);
    if (!m) break;
    seen.insert(data_of(m.get()));
    ++from_a;
  }
  for (;;) {
    auto m = next(qb.get(), 200);
    if (!m) break;
    seen.insert(data_of(m.get()));
    ++from_b;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(seen.count(std::to_string(i)), 1u) << i;
  EXPECT_GT(from_a, 0);
  EXPECT_GT(from_b, 0);
  int plain_count = 0;
  while (next(plain.get(), 200)) ++plain_count;
  EXPECT_EQ(plain_count, n);
}

void echo_handler(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  std::string body = "re:" + data_of(m);
  natsConnection_Publish(nc, natsMsg_GetReply(m), body.data(), static_cast<int>(body.size()));
  natsMsg_Destroy(m);
}

TEST_F(NatsC, RequestReplyAndNoResponders) {
  auto srv = connect(server.url());
  natsSubscription* s = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&s, srv.get(), "svc.echo", echo_handler, nullptr), NATS_OK);
  sub_ptr holder(s, natsSubscription_Destroy);
  natsConnection_Flush(srv.get());
  auto cli = connect(server.url());
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, cli.get(), "svc.echo", "ping", 2000), NATS_OK);
  msg_ptr r(reply, natsMsg_Destroy);
  EXPECT_EQ(data_of(r.get()), "re:ping");
  const auto t0 = std::chrono::steady_clock::now();
  natsMsg* none = nullptr;
  EXPECT_EQ(natsConnection_RequestString(&none, cli.get(), "svc.nobody", "x", 5000), NATS_NO_RESPONDERS);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "503 must come at once, not after the timeout";
}

TEST_F(NatsC, MultiValueHeaders) {
  auto nc = connect(server.url());
  auto s = sub_sync(nc.get(), "h");
  natsConnection_Flush(nc.get());
  natsMsg* m = nullptr;
  ASSERT_EQ(natsMsg_Create(&m, "h", nullptr, "body", 4), NATS_OK);
  natsMsgHeader_Add(m, "X-Trace", "one");
  natsMsgHeader_Add(m, "X-Trace", "two");
  natsMsgHeader_Set(m, "Content-Type", "text/plain");
  ASSERT_EQ(natsConnection_PublishMsg(nc.get(), m), NATS_OK);
  natsMsg_Destroy(m);
  auto got = next(s.get());
  ASSERT_TRUE(got);
  const char** values = nullptr;
  int count = 0;
  ASSERT_EQ(natsMsgHeader_Values(got.get(), "X-Trace", &values, &count), NATS_OK);
  ASSERT_EQ(count, 2);
  EXPECT_STREQ(values[0], "one");
  EXPECT_STREQ(values[1], "two");
  free(static_cast<void*>(values));
  const char* ct = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(got.get(), "Content-Type", &ct), NATS_OK);
  EXPECT_STREQ(ct, "text/plain");
  EXPECT_EQ(data_of(got.get()), "body");
}

TEST_F(NatsC, AutoUnsubscribeWithMax) {
  auto nc = connect(server.url());
  auto s = sub_sync(nc.get(), "limited");
  ASSERT_EQ(natsSubscription_AutoUnsubscribe(s.get(), 3), NATS_OK);
  natsConnection_Flush(nc.get());
  auto pub = connect(server.url());
  for (int i = 0; i < 10; ++i) natsConnection_PublishString(pub.get(), "limited", "x");
  natsConnection_Flush(pub.get());
  int got = 0;
  while (next(s.get(), 300)) ++got;
  EXPECT_EQ(got, 3);
  // The server dropped the subscription too: it reports no interest any more.
  EXPECT_EQ(server.srv->stats().subscriptions, 0u);
}

TEST(NatsCLimits, MaxPayloadRejected) {
  server_holder server;
  broker::server_options o;
  o.max_payload = 1024;
  server.start(o);
  auto nc = connect(server.url());
  EXPECT_EQ(natsConnection_GetMaxPayload(nc.get()), 1024);
  std::string big(2048, 'x');
  EXPECT_EQ(natsConnection_Publish(nc.get(), "big", big.data(), static_cast<int>(big.size())), NATS_MAX_PAYLOAD);
  // A client that ignores the limit is cut off with the exact error.
  raw_client raw;
  ASSERT_TRUE(raw.connect(server.srv->port()));
  ASSERT_TRUE(raw.send("PUB big 2048\r\n"));
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_EQ(raw.buffer(), "-ERR 'Maximum Payload Violation'\r\n");
}

TEST(NatsCAuth, TokenAndUserPassword) {
  server_holder tok;
  broker::server_options o;
  o.auth.token = "s3cret";
  tok.start(o);
  {
    options good(tok.url());
    natsOptions_SetToken(good.o, "s3cret");
    EXPECT_NE(connect(good.o), nullptr);
    options bad(tok.url());
    natsOptions_SetToken(bad.o, "wrong");
    natsStatus st;
    EXPECT_EQ(connect(bad.o, &st), nullptr);
    EXPECT_EQ(st, NATS_CONNECTION_AUTH_FAILED);
    options none(tok.url());
    EXPECT_EQ(connect(none.o, &st), nullptr);
    EXPECT_EQ(st, NATS_CONNECTION_AUTH_FAILED);
  }
  server_holder up;
  broker::server_options u;
  u.auth.users = {{"alice", "pw", std::nullopt}};
  up.start(u);
  options good(up.url());
  natsOptions_SetUserInfo(good.o, "alice", "pw");
  EXPECT_NE(connect(good.o), nullptr);
  options bad(up.url());
  natsOptions_SetUserInfo(bad.o, "alice", "nope");
  natsStatus st;
  EXPECT_EQ(connect(bad.o, &st), nullptr);
  EXPECT_EQ(st, NATS_CONNECTION_AUTH_FAILED);
}

struct error_log {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<natsStatus> errors;
};

void on_async_error(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  auto* log = static_cast<error_log*>(closure);
  std::lock_guard lock(log->mu);
  log->errors.push_back(err);
  log->cv.notify_all();
}

TEST(NatsCAuth, PermissionsViolation) {
  server_holder server;
  broker::server_options o;
  broker::permissions p;
  p.publish.deny = {"secret.>"};
  p.subscribe.deny = {"secret.>"};
  o.auth.users = {{"app", "pw", p}};
  server.start(o);
  error_log log;
  options opts(server.url());
  natsOptions_SetUserInfo(opts.o, "app", "pw");
  natsOptions_SetErrorHandler(opts.o, on_async_error, &log);
  auto nc = connect(opts.o);
  ASSERT_NE(nc, nullptr);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "secret.plan", "x"), NATS_OK);
  natsConnection_Flush(nc.get());
  {
    std::unique_lock lock(log.mu);
    ASSERT_TRUE(log.cv.wait_for(lock, 2s, [&] { return !log.errors.empty(); }));
    EXPECT_EQ(log.errors[0], NATS_NOT_PERMITTED);
  }
  const char* text = nullptr;
  natsConnection_GetLastError(nc.get(), &text);
  ASSERT_NE(text, nullptr);
  EXPECT_NE(std::string(text).find("Permissions Violation for Publish to \"secret.plan\""), std::string::npos) << text;
  // The connection stays usable.
  auto s = sub_sync(nc.get(), "public.news");
  natsConnection_Flush(nc.get());
  natsConnection_PublishString(nc.get(), "public.news", "ok");
  auto m = next(s.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(data_of(m.get()), "ok");
  EXPECT_EQ(natsConnection_Status(nc.get()), NATS_CONN_STATUS_CONNECTED);
}

class NatsCTls : public ::testing::Test {
 protected:
  void start(bool verify) {
    broker::server_options o;
    o.tls.enabled = true;
    o.tls.cert_file = certs_dir() + "/server.pem";
    o.tls.key_file = certs_dir() + "/server-key.pem";
    if (verify) {
      o.tls.ca_file = certs_dir() + "/ca.pem";
      o.tls.verify = true;
    }
    server.start(o);
  }
  natsStatus try_connect(bool tls, const char* cert, const char* key) {
    options o("nats://127.0.0.1:" + std::to_string(server.srv->port()));
    if (tls) {
      natsOptions_SetSecure(o.o, true);
      natsOptions_LoadCATrustedCertificates(o.o, (certs_dir() + "/ca.pem").c_str());
      if (cert != nullptr)
        natsOptions_LoadCertificatesChain(o.o, (certs_dir() + "/" + cert).c_str(), (certs_dir() + "/" + key).c_str());
    }
    natsStatus st;
    auto c = connect(o.o, &st);
    if (c) {
      // Prove the session works end to end over TLS.
      auto s = sub_sync(c.get(), "tls.check");
      natsConnection_Flush(c.get());
      natsConnection_PublishString(c.get(), "tls.check", "secure");
      auto m = next(s.get());
      EXPECT_TRUE(m);
    }
    return st;
  }
  server_holder server;
};

TEST_F(NatsCTls, ServerCertificateOnly) {
  start(false);
  EXPECT_EQ(try_connect(true, nullptr, nullptr), NATS_OK);
  EXPECT_NE(try_connect(false, nullptr, nullptr), NATS_OK) << "a plaintext client is refused";
}

TEST_F(NatsCTls, ClientCertificatesVerified) {
  start(true);
  EXPECT_EQ(try_connect(true, "client.pem", "client-key.pem"), NATS_OK);
  EXPECT_NE(try_connect(true, nullptr, nullptr), NATS_OK) << "no client certificate";
  EXPECT_NE(try_connect(true, "rogue.pem", "rogue-key.pem"), NATS_OK) << "certificate from an unknown CA";
}

void on_reconnected(natsConnection*, void* closure) { static_cast<std::atomic<int>*>(closure)->fetch_add(1); }

TEST_F(NatsC, ReconnectAfterRestart) {
  std::atomic<int> reconnects{0};
  options o(server.url());
  natsOptions_SetReconnectWait(o.o, 100);
  natsOptions_SetMaxReconnect(o.o, 100);
  natsOptions_SetReconnectedCB(o.o, on_reconnected, &reconnects);
  auto nc = connect(o.o);
  ASSERT_NE(nc, nullptr);
  auto s = sub_sync(nc.get(), "after.restart");
  natsConnection_Flush(nc.get());
  server.restart();
  for (int i = 0; i < 100 && reconnects.load() == 0; ++i) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(reconnects.load(), 1);
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);  // the subscription was replayed
  auto pub = connect(server.url());
  natsConnection_PublishString(pub.get(), "after.restart", "back");
  auto m = next(s.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(data_of(m.get()), "back");
}

std::atomic<int> drained_msgs{0};
void slow_handler(natsConnection*, natsSubscription*, natsMsg* m, void*) {
  std::this_thread::sleep_for(1ms);
  drained_msgs.fetch_add(1);
  natsMsg_Destroy(m);
}

TEST_F(NatsC, FlushAndDrain) {
  auto nc = connect(server.url());
  natsSubscription* s = nullptr;
  drained_msgs = 0;
  ASSERT_EQ(natsConnection_Subscribe(&s, nc.get(), "drain.me", slow_handler, nullptr), NATS_OK);
  sub_ptr holder(s, natsSubscription_Destroy);
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  auto pub = connect(server.url());
  for (int i = 0; i < 200; ++i) natsConnection_PublishString(pub.get(), "drain.me", "x");
  ASSERT_EQ(natsConnection_Flush(pub.get()), NATS_OK);
  ASSERT_EQ(natsConnection_DrainTimeout(nc.get(), 10000), NATS_OK);
  for (int i = 0; i < 200 && natsConnection_Status(nc.get()) != NATS_CONN_STATUS_CLOSED; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(natsConnection_Status(nc.get()), NATS_CONN_STATUS_CLOSED);
  EXPECT_EQ(drained_msgs.load(), 200) << "drain delivers everything pending before closing";
}

TEST_F(NatsC, OneMebibyteMessages) {
  auto nc = connect(server.url());
  auto s = sub_sync(nc.get(), "big");
  natsConnection_Flush(nc.get());
  std::string payload(1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131) % 251);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(natsConnection_Publish(nc.get(), "big", payload.data(), static_cast<int>(payload.size())), NATS_OK);
  for (int i = 0; i < 3; ++i) {
    auto m = next(s.get(), 5000);
    ASSERT_TRUE(m);
    EXPECT_TRUE(data_of(m.get()) == payload) << "message " << i << " corrupted";
  }
}

TEST_F(NatsC, ThousandSubscriptionsOnOneConnection) {
  auto nc = connect(server.url());
  std::vector<sub_ptr> subs;
  for (int i = 0; i < 1000; ++i) subs.push_back(sub_sync(nc.get(), ("many." + std::to_string(i)).c_str()));
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  EXPECT_EQ(server.srv->stats().subscriptions, 1000u);
  auto pub = connect(server.url());
  for (int i = 0; i < 1000; ++i)
    natsConnection_PublishString(pub.get(), ("many." + std::to_string(i)).c_str(), std::to_string(i).c_str());
  natsConnection_Flush(pub.get());
  for (int i = 0; i < 1000; ++i) {
    auto m = next(subs[static_cast<std::size_t>(i)].get());
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(data_of(m.get()), std::to_string(i));
  }
}

}  // namespace
}  // namespace ferry::test
