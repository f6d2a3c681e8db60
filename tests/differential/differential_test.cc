// Differential test: the same scripted raw sessions against Debian's nats-server and against
// ferryd, side by side; every byte each client receives must be the same, with ids, ports and
// the "go" field of INFO masked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

struct step {
  enum kind { connect, send, sync, close_expected, settle } what;
  int client = 0;
  std::string bytes;
};

step C(int c) { return {step::connect, c, {}}; }
step S(int c, std::string b) { return {step::send, c, std::move(b)}; }
step Y(int c) { return {step::sync, c, {}}; }  // PING, read until PONG
step X(int c) { return {step::close_expected, c, {}}; }
step W(int c) { return {step::settle, c, {}}; }  // read whatever comes within 300 ms

std::string mask_info(const std::string& line) {
  auto j = nlohmann::ordered_json::parse(line.substr(5, line.size() - 8), nullptr, false);
  if (j.is_discarded()) return line;
  for (const char* k : {"server_id", "server_name", "go", "port", "client_id", "client_ip", "nonce", "git_commit"})
    if (j.contains(k)) j[k] = "*";
  return "INFO " + j.dump() + " \r\n";
}

// Runs the steps against a server on `port`; returns one transcript per client.
std::vector<std::string> run(int port, const std::vector<step>& steps) {
  std::vector<raw_client> clients(8);
  std::vector<std::string> out(8);
  for (const step& s : steps) {
    raw_client& c = clients[static_cast<std::size_t>(s.client)];
    std::string& t = out[static_cast<std::size_t>(s.client)];
    switch (s.what) {
      case step::connect:
        if (!c.connect(port)) {
          t += "[connect failed]";
          break;
        }
        t += mask_info(c.info());
        break;
      case step::send:
        c.send(s.bytes);
        break;
      case step::sync:
        c.send("PING\r\n");
        c.read_until("PONG\r\n", 3s);
        t += c.take();
        break;
      case step::close_expected:
        t += c.wait_closed(3s) ? "" : "[still open]";
        t += c.take();
        t += "[closed]";
        break;
      case step::settle:
        t += c.read_for(300ms);
        break;
    }
  }
  return out;
}

struct servers {
  child_process nats, ferryd;
  int nats_port = 0, ferryd_port = 0;
  std::string dir;

  bool start(const std::vector<std::string>& extra, const std::string& conf = "") {
    dir = make_temp_dir("ferry-diff-");
    std::vector<std::string> common = extra;
    if (!conf.empty()) {
      std::ofstream(dir + "/server.conf") << conf;
      common.push_back("-c");
      common.push_back(dir + "/server.conf");
    }
    nats_port = free_port();
    ferryd_port = free_port();
    std::vector<std::string> a = {"nats-server", "-a", "127.0.0.1", "-p", std::to_string(nats_port)};
    std::vector<std::string> b = {ferryd_path(), "-a", "127.0.0.1", "-p", std::to_string(ferryd_port)};
    a.insert(a.end(), common.begin(), common.end());
    b.insert(b.end(), common.begin(), common.end());
    return nats.start(a, dir + "/nats.log") && ferryd.start(b, dir + "/ferryd.log") && nats.wait_for_port(nats_port) &&
           ferryd.wait_for_port(ferryd_port);
  }
  ~servers() {
    nats.stop();
    ferryd.stop();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

void compare(const std::vector<step>& steps, const std::vector<std::string>& flags = {}, const std::string& conf = "") {
  if (!have_program("nats-server")) GTEST_SKIP() << "nats-server is not installed (make deps installs it)";
  servers s;
  ASSERT_TRUE(s.start(flags, conf)) << "could not start both servers";
  auto want = run(s.nats_port, steps);
  auto got = run(s.ferryd_port, steps);
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "client " << i;
}

const std::string quiet =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n";

TEST(Differential, InfoAndVerboseDefaults) {
  compare({C(0), S(0, "CONNECT {}\r\n"), Y(0), S(0, "SUB a 1\r\nPUB a 2\r\nhi\r\nUNSUB 1\r\n"), Y(0)});
}

TEST(Differential, OperationsBeforeConnect) { compare({C(0), S(0, "PUB foo 1\r\nx\r\n"), Y(0)}); }

TEST(Differential, PubSubWildcardsAndReplies) {
  compare({C(0), S(0, quiet + "SUB foo.bar 1\r\nSUB foo.> 2\r\nSUB *.bar 3\r\n"), Y(0), C(1), S(1, quiet),
           S(1, "PUB foo.bar 5\r\nhello\r\nPUB foo.bar r.1 0\r\n\r\nPUB foo.baz.qux 1\r\nq\r\n"), Y(1), Y(0)});
}

TEST(Differential, SizeTokensEchoedVerbatim) {
  compare({C(0),
           S(0, quiet + "SUB s 1\r\nPUB s 01\r\nx\r\nHPUB s 00 02\r\nhi\r\nHPUB s 012 013\r\nNATS/1.0\r\n\r\nx\r\n"),
           Y(0)});
}

TEST(Differential, ReservedRepliesAndClientInfo) {
  compare({C(0),
           S(0, quiet + "SUB x 1\r\nPUB x _R_.abc 1\r\na\r\nPUB x _GR_.a 1\r\nb\r\nPUB x _GR_. 1\r\nc\r\n"
                        "PUB x $JS.ACK. 1\r\nd\r\nPUB x $GNR.a 1\r\ne\r\nINFO {\"a\":1}\r\n"),
           Y(0), S(0, "INFO [1]\r\n"), X(0)});
}

TEST(Differential, NoRespondersGoesToTheFirstMatchingInbox) {
  compare({C(0),
           S(0, quiet + "SUB _INBOX.x.* 1\r\nSUB _INBOX.> 2\r\nSUB _INBOX.x.1 q 3\r\nPUB nobody _INBOX.x.1 0\r\n\r\n"),
           Y(0)});
}

TEST(Differential, CaseTabsAndBareLineFeeds) {
  compare({C(0), S(0, "connect {\"verbose\":false}\r\nsub\tfoo  1\nPuB foo\t2\nhi\r\nping\n"), W(0)});
}

TEST(Differential, UnsubscribeWithMax) {
  compare({C(0), S(0, quiet + "SUB b 2\r\nUNSUB 2 3\r\n"), Y(0),
           S(0, "PUB b 1\r\n0\r\nPUB b 1\r\n1\r\nPUB b 1\r\n2\r\nPUB b 1\r\n3\r\n"), Y(0),
           S(0, "SUB d 4\r\nPUB d 1\r\nx\r\nUNSUB 4 1\r\nUNSUB 99\r\nPUB d 1\r\ny\r\nUNSUB 4 0\r\n"), Y(0)});
}

TEST(Differential, HeadersAndStripping) {
  const std::string hdr = "NATS/1.0\r\nA: 1\r\na: 2\r\nA: 3\r\n\r\n";
  const std::string hpub =
      "HPUB h " + std::to_string(hdr.size()) + " " + std::to_string(hdr.size() + 2) + "\r\n" + hdr + "hi\r\n";
  compare({C(0), S(0, quiet + "SUB h 1\r\n"), Y(0), C(1),
           S(1, "CONNECT {\"verbose\":false,\"headers\":false}\r\nSUB h 2\r\n"), Y(1), C(2),
           S(2, quiet + hpub + "HPUB h 0 1\r\nv\r\n"), Y(2), Y(0), Y(1)});
}

TEST(Differential, NoResponders) {
  compare({C(0), S(0, quiet + "SUB _INBOX.x.* 9\r\nPUB nobody _INBOX.x.1 0\r\n\r\nPUB nobody other 0\r\n\r\n"), Y(0)});
}

TEST(Differential, EchoOff) {
  compare({C(0), S(0, "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB e 1\r\nPUB e 1\r\nx\r\n"), Y(0), C(1),
           S(1, quiet + "PUB e 1\r\ny\r\n"), Y(1), Y(0)});
}

TEST(Differential, ErrorsThatKeepTheConnection) {
  compare({C(0), S(0, quiet + "SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB foo. 3\r\nSUB a 1\r\nSUB b 1\r\n"), Y(0),
           S(0, "PUB a $JS.ACK.x 1\r\nx\r\nPUB b 1\r\nx\r\nPUB a 1\r\ny\r\n"), Y(0),
           S(0, "UNSUB 1 x\r\nPUB a 1\r\nz\r\n"), Y(0)});
}

TEST(Differential, PedanticPublish) {
  compare({C(0), S(0, "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB foo.> 1\r\nPUB foo.* 1\r\nx\r\n"), Y(0)});
}

// Each of these closes the connection, some with an -ERR and some silently.
TEST(Differential, ErrorsThatClose) {
  for (const char* bad :
       {"FOO\r\n", "MSG foo 1 1\r\nx\r\n", "PUB foo 2\r\nhiX\r\n", "\r\n", "PUB foo\r\n", "PUB foo bar baz 1\r\n",
        "PUB foo -1\r\n", "SUB foo\r\n", "CONNECT {\r\n", "CONNECT {\"verbose\":\"x\"}\r\n",
        "CONNECT {\"protocol\":2}\r\n", "CONNECT {\"no_responders\":true}\r\n",
        "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", "PUB foo 1048577\r\n", "-ERR 'x'\r\n"}) {
    SCOPED_TRACE(bad);
    compare({C(0), S(0, bad), X(0)});
  }
}

TEST(Differential, TokenAuth) {
  compare({C(0), S(0, "PING\r\n"), X(0), C(1), S(1, "CONNECT {\"auth_token\":\"no\"}\r\n"), X(1), C(2),
           S(2, "CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\n"), Y(2)},
          {"--auth", "s3cret"});
}

TEST(Differential, UserPasswordAuth) {
  compare({C(0), S(0, "CONNECT {\"user\":\"a\",\"pass\":\"x\"}\r\n"), X(0), C(1),
           S(1, "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"b\"}\r\n"), Y(1), C(2),
           S(2, "CONNECT {\"user\":\"a\",\"pass\":\"b\",\"account\":\"A\"}\r\n"), X(2)},
          {"--user", "a", "--pass", "b"});
}

TEST(Differential, PermissionsFromConfig) {
  const std::string conf = R"(
authorization {
  users = [
    { user: app, password: pw, permissions: {
        publish: { allow: ["orders.>", "_INBOX.>"], deny: ["orders.secret"] }
        subscribe: { allow: ["orders.>", "_INBOX.>", "jobs.* workers"], deny: ["orders.secret"] }
    } }
    { user: watcher, password: pw, permissions: { subscribe: { deny: "secret.>" } } }
    { user: pub, password: pw }
  ]
}
)";
  compare(
      {C(0), S(0, "CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"pw\"}\r\n"),
       S(0,
         "PUB payments.x 1\r\nx\r\nPUB orders.secret 1\r\nx\r\nSUB payments.> 1\r\nSUB orders.secret 2\r\n"
         "SUB jobs.a others 3\r\nSUB orders.> 5\r\nSUB jobs.a workers 6\r\nPUB orders.new 2\r\nok\r\n"),
       Y(0), C(1), S(1, "CONNECT {\"verbose\":false,\"user\":\"watcher\",\"pass\":\"pw\"}\r\nSUB > 1\r\n"), Y(1), C(2),
       S(2,
         "CONNECT {\"verbose\":false,\"user\":\"pub\",\"pass\":\"pw\"}\r\nPUB secret.plan 1\r\nx\r\nPUB public.news "
         "1\r\ny\r\n"),
       Y(2), Y(1)},
      {}, conf);
}

TEST(Differential, LimitsFromConfig) {
  compare({C(0), S(0, quiet + "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n"), Y(0), S(0, "PUB a 16\r\n0123456789abcdef\r\n"),
           Y(0), C(1), S(1, quiet), Y(1), C(2), X(2), S(0, "PUB a 17\r\n"), X(0)},
          {}, "max_payload: 16\nmax_subscriptions: 2\nmax_connections: 2\n");
}

}  // namespace
}  // namespace ferry::test
