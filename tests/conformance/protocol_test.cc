// Raw-socket conformance: the exact bytes ferryd sends for each client frame, and whether it
// keeps the connection open, as nats-protocol.md section 1 describes nats-server 2.9/2.10.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "server_fixture.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

TEST(Info, ShapeAndFieldOrder) {
  auto s = start_server();
  auto c = client(*s);
  const std::string& info = c.info();
  ASSERT_TRUE(info.starts_with("INFO {"));
  ASSERT_TRUE(info.ends_with("} \r\n")) << "a space before CRLF, as nats-server sends";
  auto j = nlohmann::ordered_json::parse(info.substr(5, info.size() - 8));
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"server_id", "server_name", "version", "proto", "go", "host", "port",
                                            "headers", "max_payload", "client_id", "client_ip"}));
  EXPECT_TRUE(std::regex_match(j["version"].get<std::string>(), std::regex(R"(\d+\.\d+\.\d+)")));
  EXPECT_EQ(j["proto"], 1);
  EXPECT_EQ(j["headers"], true);
  EXPECT_EQ(j["max_payload"], 1048576);
  EXPECT_EQ(j["port"], s->port());
  EXPECT_EQ(j["client_ip"], "127.0.0.1");
  EXPECT_EQ(j["server_id"].get<std::string>().size(), 56u);
  auto c2 = client(*s);
  auto j2 = nlohmann::json::parse(c2.info().substr(5));
  EXPECT_GT(j2["client_id"].get<int>(), j["client_id"].get<int>());
}

TEST(Info, AuthRequiredIsAdvertisedBeforeMaxPayload) {
  broker::server_options o;
  o.auth.token = "t";
  auto s = start_server(o);
  auto c = client(*s);
  EXPECT_NE(c.info().find(R"("headers":true,"auth_required":true,"max_payload":)"), std::string::npos) << c.info();
}

TEST(Connect, VerboseIsTheDefault) {
  auto s = start_server();
  auto c = client(*s);
  ASSERT_TRUE(c.send("CONNECT {}\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "+OK\r\nPONG\r\n");
}

TEST(Connect, OperationsBeforeConnectAreAcceptedWithoutAuth) {
  auto s = start_server();
  auto c = client(*s);
  ASSERT_TRUE(c.send("PUB foo 1\r\nx\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "+OK\r\nPONG\r\n");
}

TEST(Connect, BadJsonClosesWithoutError) {
  auto s = start_server();
  for (const char* bad : {"CONNECT {\r\n", "CONNECT {\"verbose\":\"x\"}\r\n", "CONNECT\r\n", "CONNECT {}x\r\n"}) {
    auto c = client(*s);
    ASSERT_TRUE(c.send(bad));
    EXPECT_TRUE(c.wait_closed()) << bad;
    EXPECT_EQ(c.buffer(), "") << bad;
  }
}

TEST(Connect, InvalidProtocolAndNoRespondersWithoutHeaders) {
  auto s = start_server();
  auto c = client(*s);
  ASSERT_TRUE(c.send("CONNECT {\"protocol\":2}\r\n"));
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.buffer(), "-ERR 'invalid client protocol'\r\n");
  auto d = client(*s);
  ASSERT_TRUE(d.send("CONNECT {\"no_responders\":true}\r\n"));
  EXPECT_TRUE(d.wait_closed());
  EXPECT_EQ(d.buffer(), "-ERR 'no responders requires headers support'\r\n");
}

TEST(PubSub, MessageFrames) {
  auto s = start_server();
  auto sub = client(*s, quiet);
  auto pub = client(*s, quiet);
  ASSERT_TRUE(sub.send("SUB foo.* 7\r\nSUB foo.> 8\r\nPING\r\n") && sub.read_until("PONG\r\n"));
  sub.take();
  ASSERT_TRUE(pub.send("PUB foo.bar 5\r\nhello\r\nPUB foo.bar reply.to 0\r\n\r\nPING\r\n") &&
              pub.read_until("PONG\r\n"));
  ASSERT_TRUE(sub.read_until("MSG foo.bar 8 reply.to 0\r\n\r\n"));
  // One copy per matching subscription, '>' before '*' as nats-server's sublist orders them.
  EXPECT_EQ(sub.take(),
            "MSG foo.bar 8 5\r\nhello\r\nMSG foo.bar 7 5\r\nhello\r\n"
            "MSG foo.bar 8 reply.to 0\r\n\r\nMSG foo.bar 7 reply.to 0\r\n\r\n");
}

// A long stream in large writes must arrive whole: output is flushed while the publisher's
// reads keep coming, not only when the server runs out of input.
TEST(PubSub, SustainedStreamArrivesWhole) {
  auto s = start_server();
  auto sub = client(*s, quiet);
  ASSERT_TRUE(sub.send("SUB stream 1\r\nPING\r\n") && sub.read_until("PONG\r\n"));
  sub.take();
  auto pub = client(*s, quiet);
  const std::string frame = "PUB stream 100\r\n" + std::string(100, 'x') + "\r\n";
  std::string chunk;
  for (int i = 0; i < 10000; ++i) chunk += frame;
  const int n = 1000000;
  int sndbuf = 4 << 20;
  setsockopt(pub.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  std::atomic<long> got{0};
  std::thread reader([&] {
    std::string tail;
    const std::string msg = "MSG stream 1 100\r\n" + std::string(100, 'x') + "\r\n";
    while (got < n) {
      std::string in = sub.read_for(std::chrono::milliseconds(200));
      if (in.empty() && sub.closed()) break;
      tail += in;
      std::size_t whole = tail.size() / msg.size();
      got += static_cast<long>(whole);
      tail.erase(0, whole * msg.size());
    }
  });
  for (int i = 0; i < n / 10000; ++i) ASSERT_TRUE(pub.send(chunk));
  ASSERT_TRUE(pub.send("PING\r\n") && pub.read_until("PONG\r\n", std::chrono::seconds(30)));
  reader.join();
  EXPECT_EQ(got.load(), n);
  EXPECT_EQ(s->stats().slow_consumers, 0u);
}

TEST(PubSub, CaseInsensitiveOpsAndTabs) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("sub\tfoo  1\r\npub foo\t2\r\nhi\r\nping\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG foo 1 2\r\nhi\r\nPONG\r\n");
}

TEST(PubSub, EchoOff) {
  auto s = start_server();
  auto c = client(*s, R"({"verbose":false,"echo":false})");
  auto other = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB e 1\r\nPUB e 1\r\nx\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "PONG\r\n");
  ASSERT_TRUE(other.send("PUB e 1\r\ny\r\nPING\r\n") && other.read_until("PONG\r\n"));
  ASSERT_TRUE(c.read_until("MSG e 1 1\r\ny\r\n"));
}

TEST(PubSub, QueueGroupGetsEachMessageOnce) {
  auto s = start_server();
  auto a = client(*s, quiet);
  auto b = client(*s, quiet);
  auto plain = client(*s, quiet);
  ASSERT_TRUE(a.send("SUB q.x workers 1\r\nPING\r\n") && a.read_until("PONG\r\n"));
  ASSERT_TRUE(b.send("SUB q.x workers 1\r\nPING\r\n") && b.read_until("PONG\r\n"));
  ASSERT_TRUE(plain.send("SUB q.x 1\r\nPING\r\n") && plain.read_until("PONG\r\n"));
  a.take();
  b.take();
  plain.take();
  auto pub = client(*s, quiet);
  std::string burst;
  const int n = 200;
  for (int i = 0; i < n; ++i) burst += "PUB q.x 1\r\nx\r\n";
  ASSERT_TRUE(pub.send(burst + "PING\r\n") && pub.read_until("PONG\r\n"));
  auto count = [](const std::string& s) {
    std::size_t k = 0;
    for (std::size_t p = s.find("MSG "); p != std::string::npos; p = s.find("MSG ", p + 1)) ++k;
    return k;
  };
  std::string pa, pb, pp;
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline && (count(pa) + count(pb) < n || count(pp) < n)) {
    pa += a.read_for(20ms);
    pb += b.read_for(20ms);
    pp += plain.read_for(20ms);
  }
  EXPECT_EQ(count(pp), static_cast<std::size_t>(n));
  EXPECT_EQ(count(pa) + count(pb), static_cast<std::size_t>(n));
  EXPECT_GT(count(pa), 0u);
  EXPECT_GT(count(pb), 0u);
}

TEST(PubSub, ReusedSidIsIgnored) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB a 1\r\nSUB b 1\r\nPUB a 1\r\nx\r\nPUB b 1\r\ny\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG a 1 1\r\nx\r\nPONG\r\n");
}

TEST(Unsub, ImmediateAndWithMax) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB a 1\r\nUNSUB 1\r\nPUB a 1\r\nx\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "PONG\r\n");
  std::string cmds = "SUB b 2\r\nUNSUB 2 3\r\n";
  for (int i = 0; i < 5; ++i) cmds += "PUB b 1\r\n" + std::to_string(i) + "\r\n";
  ASSERT_TRUE(c.send(cmds + "PING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG b 2 1\r\n0\r\nMSG b 2 1\r\n1\r\nMSG b 2 1\r\n2\r\nPONG\r\n");
  // A max not above what was already delivered unsubscribes at once; unknown sids are ignored.
  ASSERT_TRUE(c.send("SUB d 4\r\nPUB d 1\r\nx\r\nUNSUB 4 1\r\nUNSUB 99\r\nPUB d 1\r\ny\r\nPING\r\n") &&
              c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG d 4 1\r\nx\r\nPONG\r\n");
}

TEST(Headers, HmsgPassThroughAndStripping) {
  auto s = start_server();
  auto h = client(*s, quiet);
  auto plain = client(*s, R"({"verbose":false,"headers":false})");
  ASSERT_TRUE(h.send("SUB h 1\r\nPING\r\n") && h.read_until("PONG\r\n"));
  ASSERT_TRUE(plain.send("SUB h 2\r\nPING\r\n") && plain.read_until("PONG\r\n"));
  h.take();
  plain.take();
  const std::string hdr = "NATS/1.0\r\nA: 1\r\na: 2\r\nA: 3\r\n\r\n";
  auto pub = client(*s, quiet);
  ASSERT_TRUE(pub.send("HPUB h " + std::to_string(hdr.size()) + " " + std::to_string(hdr.size() + 2) + "\r\n" + hdr +
                       "hi\r\nPING\r\n") &&
              pub.read_until("PONG\r\n"));
  ASSERT_TRUE(h.read_until("hi\r\n"));
  EXPECT_EQ(h.take(),
            "HMSG h 1 " + std::to_string(hdr.size()) + " " + std::to_string(hdr.size() + 2) + "\r\n" + hdr + "hi\r\n");
  ASSERT_TRUE(plain.read_until("hi\r\n"));
  EXPECT_EQ(plain.take(), "MSG h 2 2\r\nhi\r\n");
}

TEST(Headers, ZeroLengthHeaderIsAPlainMessage) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB k 1\r\nHPUB k 0 1\r\nv\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG k 1 1\r\nv\r\nPONG\r\n");
}

TEST(Headers, HpubWithoutHeadersSupportCloses) {
  auto s = start_server();
  auto c = client(*s, R"({"verbose":false})");
  ASSERT_TRUE(c.send("HPUB k 12 12\r\nNATS/1.0\r\n\r\n\r\n"));
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.buffer(), "");
}

TEST(NoResponders, ExactFrameToTheInbox) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB _INBOX.x.* 9\r\nPUB nobody _INBOX.x.1 0\r\n\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "HMSG _INBOX.x.1 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n");
  // Without a matching subscription of its own, nothing is sent.
  ASSERT_TRUE(c.send("PUB nobody other.inbox 0\r\n\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "PONG\r\n");
  // Without no_responders in CONNECT, nothing either.
  auto d = client(*s, R"({"verbose":false,"headers":true})");
  ASSERT_TRUE(d.send("SUB _INBOX.y.* 1\r\nPUB nobody _INBOX.y.1 0\r\n\r\nPING\r\n") && d.read_until("PONG\r\n"));
  EXPECT_EQ(d.take(), "PONG\r\n");
}

TEST(Errors, ThatClose) {
  broker::server_options o;
  o.max_payload = 16;
  o.max_pending = 1 << 20;
  auto s = start_server(o);
  struct tc {
    const char* send;
    const char* want;
  };
  for (tc t : std::initializer_list<tc>{
           {"FOO\r\n", "-ERR 'Unknown Protocol Operation'\r\n"},
           {"MSG foo 1 1\r\nx\r\n", "-ERR 'Unknown Protocol Operation'\r\n"},
           {"PUB foo 2\r\nhiX\r\n", "-ERR 'Unknown Protocol Operation'\r\n"},
           {"\r\n", "-ERR 'Unknown Protocol Operation'\r\n"},
           {"PUB foo 17\r\n", "-ERR 'Maximum Payload Violation'\r\n"},
           {"PUB foo\r\n", ""},
           {"PUB foo bar baz 1\r\n", ""},
           {"SUB foo\r\n", ""},
           {"-ERR 'x'\r\n", ""},
       }) {
    auto c = client(*s);
    ASSERT_TRUE(c.send(t.send));
    EXPECT_TRUE(c.wait_closed()) << t.send;
    EXPECT_EQ(c.buffer(), t.want) << t.send;
  }
  auto c = client(*s);
  ASSERT_TRUE(c.send("SUB " + std::string(5000, 'a') + " 1\r\n"));
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(c.buffer(), "-ERR 'maximum control line exceeded'\r\n");
}

TEST(Errors, ThatKeepTheConnection) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB foo. 3\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nPONG\r\n");
}

TEST(Errors, PedanticPublishIsReportedButRouted) {
  auto s = start_server();
  auto c = client(*s, R"({"verbose":false,"pedantic":true})");
  ASSERT_TRUE(c.send("SUB foo.> 1\r\nPUB foo.* 1\r\nx\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 1\r\nx\r\nPONG\r\n");
  auto d = client(*s, quiet);  // not pedantic: no error
  ASSERT_TRUE(d.send("SUB foo.> 1\r\nPUB foo.* 1\r\nx\r\nPING\r\n") && d.read_until("PONG\r\n"));
  EXPECT_EQ(d.take(), "MSG foo.* 1 1\r\nx\r\nPONG\r\n");
}

TEST(Errors, ReservedReplySubjects) {
  auto s = start_server();
  auto c = client(*s, quiet);
  ASSERT_TRUE(c.send("SUB a 1\r\nPUB a $JS.ACK.x.y 1\r\nx\r\nPING\r\n") && c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "-ERR 'Permissions Violation for Publish with Reply of \"$JS.ACK.x.y\"'\r\nPONG\r\n");
}

TEST(Ping, ClientPingAnsweredIgnoringTrailingBytes) {
  auto s = start_server();
  auto c = client(*s);
  ASSERT_TRUE(c.send("PING\r\nPING extra\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\nPONG\r\n"));
}

}  // namespace
}  // namespace ferry::test
