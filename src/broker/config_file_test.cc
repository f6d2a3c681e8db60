#include "broker/config_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "broker/config_parser.h"

namespace ferry::broker {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Applies `text` as "t.conf" onto default options; fails the test on an error.
server_options apply_ok(std::string_view text) {
  server_options o;
  status s = apply_config_text(text, "t.conf", "", o);
  EXPECT_TRUE(s.is_ok()) << s.to_string() << "\nin:\n" << text;
  return o;
}

// Applies `text` as "t.conf" and returns the error message; fails the test if it applies.
std::string apply_error(std::string_view text) {
  server_options o;
  status s = apply_config_text(text, "t.conf", "", o);
  EXPECT_EQ(s.code(), status_code::invalid_argument) << s.to_string() << "\nin:\n" << text;
  return s.message();
}

// The top-level tree of `text`; fails the test on an error.
config_value parse_ok(std::string_view text) {
  result<config_value> r = parse_config(text, "t.conf", "");
  EXPECT_TRUE(r.is_ok()) << r.status().to_string() << "\nin:\n" << text;
  return r.is_ok() ? std::move(r).value() : config_value();
}

const config_value* find(const config_value& map, std::string_view key) {
  for (const config_entry& e : map.entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

// A directory of its own per test, removed afterwards.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry_config_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, std::string_view text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

// --- syntax ---

TEST(ConfigSyntax, ThreeSeparators) {
  server_options o = apply_ok("port: 4001\nmax_payload = 2000\nping_max 7\n");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.max_payload, 2000);
  EXPECT_EQ(o.ping_max, 7);
}

TEST(ConfigSyntax, SemicolonsCommasAndBlanks) {
  server_options o = apply_ok("  port: 4001;  ping_max: 3, max_subs: 9\n\t\n");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.ping_max, 3);
  EXPECT_EQ(o.max_subscriptions, 9);
}

TEST(ConfigSyntax, CommentsEverywhere) {
  server_options o = apply_ok(
      "# hash comment\n"
      "// slash comment\n"
      "port: 4001 # after a value\n"
      "ping_max: 3 // after a value\n"
      "authorization { # after a brace\n"
      "  # inside a block\n"
      "  users = [ # after a bracket\n"
      "    {user: a, password: b} // in an array\n"
      "    # on its own line in an array\n"
      "  ]\n"
      "}\n");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.ping_max, 3);
  ASSERT_EQ(o.auth.users.size(), 1u);
}

TEST(ConfigSyntax, HashInsideAWordIsNotAComment) {
  // As in nats-server: only a '#' after a blank starts a comment.
  server_options o = apply_ok("authorization { token: abc#def }");
  EXPECT_EQ(o.auth.token, "abc#def");
}

TEST(ConfigSyntax, BlocksWithAndWithoutSeparator) {
  EXPECT_EQ(apply_ok("authorization { token: a }").auth.token, "a");
  EXPECT_EQ(apply_ok("authorization: { token: b }").auth.token, "b");
  EXPECT_EQ(apply_ok("authorization = { token: c }").auth.token, "c");
  EXPECT_EQ(apply_ok("authorization\n{\n  token: d\n}\n").auth.token, "d");
  EXPECT_EQ(apply_ok("authorization{token: e}").auth.token, "e");
}

TEST(ConfigSyntax, WholeFileInBraces) {
  EXPECT_EQ(apply_ok("{\n  port: 4001\n  ping_max: 3\n}\n").port, 4001);
  EXPECT_EQ(apply_ok("{ port: 4002, ping_max: 3 }").port, 4002);
}

TEST(ConfigSyntax, MapEntriesSeparatedBySemicolonCommaOrNewLine) {
  server_options o = apply_ok("tls { cert_file: c; key_file: k, ca_file: a\n verify: true }");
  EXPECT_EQ(o.tls.cert_file, "c");
  EXPECT_EQ(o.tls.key_file, "k");
  EXPECT_EQ(o.tls.ca_file, "a");
  EXPECT_TRUE(o.tls.verify);
}

TEST(ConfigSyntax, ValueOnTheNextLineInsideABlock) {
  EXPECT_EQ(apply_ok("authorization {\n  token:\n    abc\n}").auth.token, "abc");
}

TEST(ConfigSyntax, ArraysWithCommasNewLinesAndATrailingComma) {
  config_value t = parse_ok("a: [1, 2, 3]\nb: [\n  x\n  y\n]\nc: [p, q,]\nd: []\ne: [[1, 2], {k: v}]\n");
  ASSERT_EQ(find(t, "a")->items.size(), 3u);
  EXPECT_EQ(find(t, "a")->items[2].integer, 3);
  ASSERT_EQ(find(t, "b")->items.size(), 2u);
  EXPECT_EQ(find(t, "b")->items[1].text, "y");
  EXPECT_EQ(find(t, "c")->items.size(), 2u);
  EXPECT_TRUE(find(t, "d")->items.empty());
  const config_value* e = find(t, "e");
  ASSERT_EQ(e->items.size(), 2u);
  EXPECT_EQ(e->items[0].kind, config_kind::array);
  EXPECT_EQ(e->items[1].kind, config_kind::map);
  EXPECT_EQ(find(e->items[1], "k")->text, "v");
}

TEST(ConfigSyntax, Strings) {
  config_value t = parse_ok(
      "dq: \"a b\\tc\\n\\\"q\\\"\\\\\\x41\"\n"
      "sq: 'raw \\t $x \"'\n"
      "bare: hello-world.example/path\n"
      "url: nats://host:4222\n"
      "ip: 127.0.0.1:4222\n"
      "digits_then_letters: 12abc\n"
      "multi: \"line one\nline two\"\n"
      "block: (\nfirst\nsecond\n)\n"
      "quoted_number: \"4222\"\n");
  EXPECT_EQ(find(t, "dq")->text, "a b\tc\n\"q\"\\A");
  EXPECT_EQ(find(t, "sq")->text, "raw \\t $x \"");
  EXPECT_EQ(find(t, "bare")->text, "hello-world.example/path");
  EXPECT_EQ(find(t, "url")->text, "nats://host:4222");
  EXPECT_EQ(find(t, "ip")->kind, config_kind::string);
  EXPECT_EQ(find(t, "ip")->text, "127.0.0.1:4222");
  EXPECT_EQ(find(t, "digits_then_letters")->kind, config_kind::string);
  EXPECT_EQ(find(t, "multi")->text, "line one\nline two");
  EXPECT_EQ(find(t, "block")->text, "\nfirst\nsecond\n");
  EXPECT_EQ(find(t, "quoted_number")->kind, config_kind::string);
  // Lines keep counting through multi-line strings.
  EXPECT_EQ(find(t, "block")->at.line, 9);
  EXPECT_EQ(find(t, "quoted_number")->at.line, 13);
}

TEST(ConfigSyntax, QuotedKeys) {
  server_options o = apply_ok("\"port\": 4001\n'ping_max' = 5\n");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.ping_max, 5);
}

TEST(ConfigSyntax, KeysIgnoreCase) {
  server_options o = apply_ok("PORT: 4001\nAuthorization { TOKEN: t }\n");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.auth.token, "t");
}

TEST(ConfigSyntax, NumbersAndBooleans) {
  config_value t = parse_ok(
      "i: 42\nn: -7\nf: 1.5\nnf: -0.25\nd: 2023-01-02T03:04:05Z\n"
      "b1: true\nb2: FALSE\nb3: yes\nb4: no\nb5: on\nb6: Off\n");
  EXPECT_EQ(find(t, "i")->kind, config_kind::integer);
  EXPECT_EQ(find(t, "i")->integer, 42);
  EXPECT_EQ(find(t, "n")->integer, -7);
  EXPECT_EQ(find(t, "f")->kind, config_kind::floating);
  EXPECT_DOUBLE_EQ(find(t, "f")->floating, 1.5);
  EXPECT_DOUBLE_EQ(find(t, "nf")->floating, -0.25);
  EXPECT_EQ(find(t, "d")->kind, config_kind::datetime);
  for (const char* k : {"b1", "b3", "b5"}) {
    EXPECT_EQ(find(t, k)->kind, config_kind::boolean) << k;
    EXPECT_TRUE(find(t, k)->boolean) << k;
  }
  for (const char* k : {"b2", "b4", "b6"}) {
    EXPECT_EQ(find(t, k)->kind, config_kind::boolean) << k;
    EXPECT_FALSE(find(t, k)->boolean) << k;
  }
}

TEST(ConfigSyntax, LaterKeyWins) {
  server_options o = apply_ok("port: 4001\nport: 4002\nauthorization { token: a }\nauthorization { user: u }\n");
  EXPECT_EQ(o.port, 4002);
  EXPECT_TRUE(o.auth.token.empty());
  ASSERT_EQ(o.auth.users.size(), 1u);
  EXPECT_EQ(o.auth.users.at(0).name, "u");
}

TEST(ConfigSyntax, CarriageReturns) {
  server_options o = apply_ok("port: 4001\r\nauthorization {\r\n  token: t\r\n}\r\n");
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.auth.token, "t");
}

TEST(ConfigSyntax, EmptyTextChangesNothing) {
  server_options o = apply_ok("");
  EXPECT_EQ(o.port, server_options().port);
  apply_ok("# only a comment\n\n");
}

// --- sizes ---

TEST(ConfigSizes, SuffixesAsNatsServerReadsThem) {
  struct {
    const char* text;
    std::int64_t bytes;
  } cases[] = {
      {"1024", 1024},      {"1k", 1000},          {"1K", 1000},           {"1KB", 1024},
      {"1kb", 1024},       {"1Ki", 1024},         {"1KiB", 1024},         {"2M", 2000000},
      {"1MB", 1048576},    {"1MiB", 1048576},     {"8MB", 8388608},       {"1G", 1000000000},
      {"1GB", 1073741824}, {"1T", 1000000000000}, {"1TB", 1099511627776}, {"1P", 1000000000000000},
      {"-1K", -1000},
  };
  for (const auto& c : cases) {
    server_options o = apply_ok(std::string("max_pending: ") + c.text);
    EXPECT_EQ(o.max_pending, c.bytes) << c.text;
  }
}

TEST(ConfigSizes, EachSizeKey) {
  server_options o = apply_ok("max_payload: 2MB\nmax_control_line: 2KB\nmax_pending: 64MB\n");
  EXPECT_EQ(o.max_payload, 2 * 1048576);
  EXPECT_EQ(o.max_control_line, 2048);
  EXPECT_EQ(o.max_pending, 64 * 1048576);
}

TEST(ConfigSizes, QuotedSizeIsAString) {
  // nats-server refuses "64MB" (a string) for these keys too.
  EXPECT_EQ(apply_error("max_payload: \"64MB\""),
            "t.conf:1: field \"max_payload\": expected an integer (sizes such as 1MB are written without quotes), "
            "got string \"64MB\"");
  EXPECT_EQ(apply_error("max_pending: 1B"),
            "t.conf:1: field \"max_pending\": expected an integer (sizes such as 1MB are written without quotes), "
            "got string \"1B\"");
}

TEST(ConfigSizes, OutOfRange) {
  EXPECT_EQ(apply_error("max_pending: 99999999999999999999"),
            "t.conf:1: syntax error: number 99999999999999999999 is out of range");
  EXPECT_EQ(apply_error("max_pending: 9000000000000EB"),
            "t.conf:1: syntax error: number 9000000000000EB is out of range");
  EXPECT_EQ(apply_error("max_control_line: 4GB"), "t.conf:1: field \"max_control_line\": the value is too big");
}

// --- durations ---

TEST(ConfigDurations, StringsAndSeconds) {
  struct {
    const char* text;
    milliseconds ms;
  } cases[] = {
      {"\"2s\"", milliseconds(2000)},    {"2s", milliseconds(2000)},  // unquoted 2s is a string too
      {"\"500ms\"", milliseconds(500)},  {"\"1m\"", milliseconds(60000)},  {"\"1m30s\"", milliseconds(90000)},
      {"\"1h\"", milliseconds(3600000)}, {"\"1.5s\"", milliseconds(1500)}, {"5", milliseconds(5000)},
      {"\"0\"", milliseconds(0)},        {"\"2000us\"", milliseconds(2)},
  };
  for (const auto& c : cases) {
    server_options o = apply_ok(std::string("ping_interval: ") + c.text + "\nwrite_deadline: " + c.text);
    EXPECT_EQ(o.ping_interval, c.ms) << c.text;
    EXPECT_EQ(o.write_deadline, c.ms) << c.text;
  }
}

TEST(ConfigDurations, UnquotedOneMIsAMillionSeconds) {
  // 1m unquoted is the integer 1000000 (a size suffix) and integers are seconds: nats-server
  // reads it the same way, so ferryd does too.
  EXPECT_EQ(apply_ok("ping_interval: 1m").ping_interval, milliseconds(1000000LL * 1000));
}

TEST(ConfigDurations, Bad) {
  EXPECT_EQ(apply_error("ping_interval: \"2\""),
            "t.conf:1: field \"ping_interval\": \"2\" is not a duration (write e.g. \"2s\", \"1m30s\", \"500ms\")");
  EXPECT_EQ(apply_error("write_deadline: \"abc\""),
            "t.conf:1: field \"write_deadline\": \"abc\" is not a duration (write e.g. \"2s\", \"1m30s\", \"500ms\")");
  EXPECT_EQ(
      apply_error("ping_interval: 1.5"),
      "t.conf:1: field \"ping_interval\": expected a duration such as \"2s\" or a number of seconds, got float 1.5");
}

TEST(ConfigDurations, AuthAndTlsTimeouts) {
  EXPECT_EQ(apply_ok("authorization { token: t, timeout: 3 }").auth.timeout, milliseconds(3000));
  EXPECT_EQ(apply_ok("authorization { token: t, timeout: 0.5 }").auth.timeout, milliseconds(500));
  EXPECT_EQ(apply_ok("authorization { token: t, timeout: \"2s\" }").auth.timeout, milliseconds(2000));
  EXPECT_EQ(apply_ok("tls { cert_file: c, key_file: k, timeout: 4 }").tls.timeout, milliseconds(4000));
  EXPECT_EQ(apply_ok("tls { cert_file: c, key_file: k, timeout: 0.25 }").tls.timeout, milliseconds(250));
  EXPECT_EQ(apply_ok("tls { cert_file: c, key_file: k, timeout: \"3s\" }").tls.timeout, milliseconds(3000));
  EXPECT_EQ(apply_error("authorization { token: t, timeout: true }"),
            "t.conf:1: field \"timeout\": expected a number of seconds or a duration such as \"2s\", got boolean true");
}

// --- every key ---

TEST(ConfigKeys, ListenHostAndPort) {
  server_options o = apply_ok("listen: 0.0.0.0:4333");
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 4333);
  o = apply_ok("listen: \"localhost:4334\"");
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, 4334);
  o = apply_ok("listen: \"[::1]:4335\"");
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 4335);
  o = apply_ok("listen: \":4336\"");
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 4336);
  o = apply_ok("listen: 4337");
  EXPECT_EQ(o.host, server_options().host);  // a bare port keeps the host
  EXPECT_EQ(o.port, 4337);
  o = apply_ok("host: 10.0.0.1\nport: -1");
  EXPECT_EQ(o.host, "10.0.0.1");
  EXPECT_EQ(o.port, -1);
  EXPECT_EQ(apply_ok("net: ::1").host, "::1");
}

TEST(ConfigKeys, Monitoring) {
  EXPECT_EQ(apply_ok("http_port: 8222").http_port, 8222);
  EXPECT_EQ(apply_ok("monitor_port: 8223").http_port, 8223);
  server_options o = apply_ok("http: 127.0.0.2:8224");
  EXPECT_EQ(o.http_host, "127.0.0.2");
  EXPECT_EQ(o.http_port, 8224);
  o = apply_ok("http: 8225");
  EXPECT_EQ(o.http_host, "");
  EXPECT_EQ(o.http_port, 8225);
}

TEST(ConfigKeys, Limits) {
  server_options o = apply_ok(
      "server_name: edge-1\nmax_connections: 100\nmax_subscriptions: 50\nping_max: 4\n"
      "max_payload: 4096\nmax_control_line: 1024\nmax_pending: 1000000\n");
  EXPECT_EQ(o.server_name, "edge-1");
  EXPECT_EQ(o.max_connections, 100);
  EXPECT_EQ(o.max_subscriptions, 50);
  EXPECT_EQ(o.ping_max, 4);
  EXPECT_EQ(o.max_payload, 4096);
  EXPECT_EQ(o.max_control_line, 1024);
  EXPECT_EQ(o.max_pending, 1000000);
  o = apply_ok("max_conn: 7\nmax_subs: 8\n");
  EXPECT_EQ(o.max_connections, 7);
  EXPECT_EQ(o.max_subscriptions, 8);
}

TEST(ConfigKeys, Logging) {
  server_options o = apply_ok("debug: true\nlogfile: /var/log/ferryd.log\nlogtime: false\n");
  EXPECT_EQ(o.log.level, log_level::debug);
  EXPECT_EQ(o.log.file, "/var/log/ferryd.log");
  EXPECT_FALSE(o.log.timestamps);
  EXPECT_EQ(apply_ok("trace: true\ndebug: false").log.level, log_level::trace);
  EXPECT_EQ(apply_ok("debug: true\ntrace: true").log.level, log_level::trace);
  EXPECT_EQ(apply_ok("debug: false\ntrace: off").log.level, log_level::info);
  EXPECT_EQ(apply_ok("log_file: f.log").log.file, "f.log");
}

TEST(ConfigKeys, Files) {
  server_options o = apply_ok("pid_file: /run/ferryd.pid\nports_file_dir: /run\n");
  EXPECT_EQ(o.pid_file, "/run/ferryd.pid");
  EXPECT_EQ(o.ports_file_dir, "/run");
  EXPECT_EQ(apply_ok("pidfile: p.pid").pid_file, "p.pid");
}

TEST(ConfigKeys, AuthorizationToken) {
  server_options o = apply_ok("authorization { token: s3cret, timeout: 2 }");
  EXPECT_EQ(o.auth.token, "s3cret");
  EXPECT_TRUE(o.auth.users.empty());
  EXPECT_EQ(o.auth.timeout, milliseconds(2000));
  EXPECT_TRUE(o.auth.required());
}

TEST(ConfigKeys, AuthorizationSingleUser) {
  server_options o = apply_ok("authorization { user: alice, password: pw }");
  ASSERT_EQ(o.auth.users.size(), 1u);
  EXPECT_EQ(o.auth.users.at(0).name, "alice");
  EXPECT_EQ(o.auth.users.at(0).password, "pw");
  EXPECT_FALSE(o.auth.users.at(0).perms);
  o = apply_ok("authorization { username: bob, pass: pw2 }");
  ASSERT_EQ(o.auth.users.size(), 1u);
  EXPECT_EQ(o.auth.users.at(0).name, "bob");
  EXPECT_EQ(o.auth.users.at(0).password, "pw2");
}

TEST(ConfigKeys, AuthorizationBcryptPasswordUnquoted) {
  // `$2a$...` is a bcrypt hash, not a variable, as in nats-server.
  const std::string hash = "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG";
  server_options o = apply_ok("authorization { user: a, password: " + hash + " }");
  ASSERT_EQ(o.auth.users.size(), 1u);
  EXPECT_EQ(o.auth.users.at(0).password, hash);
}

TEST(ConfigKeys, AuthorizationUsers) {
  server_options o = apply_ok(
      "authorization {\n"
      "  users = [\n"
      "    { user: alice, password: a1 }\n"
      "    { username: bob, pass: b1, permissions: { publish: \"x\" } }\n"
      "  ]\n"
      "}\n");
  ASSERT_EQ(o.auth.users.size(), 2u);
  EXPECT_EQ(o.auth.users.at(0).name, "alice");
  EXPECT_EQ(o.auth.users.at(0).password, "a1");
  EXPECT_FALSE(o.auth.users.at(0).perms);
  EXPECT_EQ(o.auth.users.at(1).name, "bob");
  ASSERT_TRUE(o.auth.users.at(1).perms);
  EXPECT_EQ(o.auth.users.at(1).perms.value().publish.allow, std::vector<std::string>{"x"});
}

TEST(ConfigKeys, Tls) {
  server_options o = apply_ok(
      "tls {\n  cert_file: \"/etc/ferryd/cert.pem\"\n  key_file: /etc/ferryd/key.pem\n"
      "  ca_file: /etc/ferryd/ca.pem\n  verify: true\n  timeout: 3\n}\n");
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_EQ(o.tls.cert_file, "/etc/ferryd/cert.pem");
  EXPECT_EQ(o.tls.key_file, "/etc/ferryd/key.pem");
  EXPECT_EQ(o.tls.ca_file, "/etc/ferryd/ca.pem");
  EXPECT_TRUE(o.tls.verify);
  EXPECT_EQ(o.tls.timeout, milliseconds(3000));
  EXPECT_EQ(apply_ok("tls { cert_file: c, key_file: k }").tls.timeout, tls_options().timeout);
}

TEST(ConfigKeys, JetStreamForms) {
  EXPECT_TRUE(apply_ok("jetstream: enabled").jetstream);
  EXPECT_TRUE(apply_ok("jetstream: \"Enable\"").jetstream);
  EXPECT_TRUE(apply_ok("jetstream: true").jetstream);
  EXPECT_TRUE(apply_ok("jetstream {}").jetstream);
  EXPECT_FALSE(apply_ok("jetstream: disabled").jetstream);
  EXPECT_FALSE(apply_ok("jetstream: false").jetstream);
  EXPECT_FALSE(apply_ok("jetstream { enabled: false }").jetstream);
}

TEST(ConfigKeys, JetStreamBlock) {
  server_options o =
      apply_ok("jetstream {\n  store_dir: /data/js\n  max_memory_store: 1GB\n  max_file_store: \"64M\"\n}\n");
  EXPECT_TRUE(o.jetstream);
  EXPECT_EQ(o.store_dir, "/data/js");
  EXPECT_EQ(apply_ok("jetstream { store: /a, max_mem: 1G, max_file: 10G }").store_dir, "/a");
  EXPECT_EQ(apply_ok("store_dir: /b\njetstream: enabled").store_dir, "/b");
  EXPECT_EQ(apply_ok("storedir: /c").store_dir, "/c");
}

TEST(ConfigKeys, JetStreamBad) {
  EXPECT_EQ(apply_error("jetstream: maybe"),
            "t.conf:1: field \"jetstream\": expected \"enabled\" or \"disabled\", got \"maybe\"");
  EXPECT_EQ(apply_error("jetstream: 1"),
            "t.conf:1: field \"jetstream\": expected a boolean, \"enabled\", \"disabled\" or a map, got integer 1");
  EXPECT_EQ(
      apply_error("jetstream {\n  max_file_store: \"64MB\"\n}"),
      "t.conf:2: field \"max_file_store\": \"64MB\" is not a size (quoted sizes end in K, M, G or T, e.g. \"64M\")");
  EXPECT_EQ(apply_error("jetstream {\n  max_memory_store: 1.5\n}"),
            "t.conf:2: field \"max_memory_store\": expected a size such as 1GB or \"1G\", got float 1.5");
  EXPECT_EQ(apply_error("store_dir: /a\njetstream {\n  store_dir: /b\n}"),
            "t.conf:3: field \"store_dir\": store_dir is set both at the top level and in jetstream");
  EXPECT_EQ(apply_error("jetstream {\n  domain: hub\n}"), "t.conf:2: unknown field \"domain\"");
}

// --- permissions ---

TEST(ConfigPermissions, StringShape) {
  server_options o = apply_ok(
      "authorization { users = [ {user: a, permissions: { publish: \"orders.>\", subscribe: \"_INBOX.>\" }} ] }");
  const permissions& p = o.auth.users.at(0).perms.value();
  EXPECT_EQ(p.publish.allow, std::vector<std::string>{"orders.>"});
  EXPECT_TRUE(p.publish.deny.empty());
  EXPECT_EQ(p.subscribe.allow, std::vector<std::string>{"_INBOX.>"});
}

TEST(ConfigPermissions, ListShape) {
  server_options o = apply_ok(
      "authorization { users = [ {user: a, permissions: {\n"
      "  publish: [\"a.*\", b]\n"
      "  subscribe: [\n    \"c.>\"\n    \"work.* workers\"\n  ]\n"
      "}} ] }");
  const permissions& p = o.auth.users.at(0).perms.value();
  EXPECT_EQ(p.publish.allow, (std::vector<std::string>{"a.*", "b"}));
  // "subject queue" is kept as written; auth.cc splits it.
  EXPECT_EQ(p.subscribe.allow, (std::vector<std::string>{"c.>", "work.* workers"}));
}

TEST(ConfigPermissions, AllowDenyShape) {
  server_options o = apply_ok(
      "authorization { users = [ {user: a, permissions: {\n"
      "  publish: { allow: [\"a.>\", \"b.>\"], deny: \"a.secret\" }\n"
      "  subscribe: { deny: [\"x.> q1\"] }\n"
      "}} ] }");
  const permissions& p = o.auth.users.at(0).perms.value();
  EXPECT_EQ(p.publish.allow, (std::vector<std::string>{"a.>", "b.>"}));
  EXPECT_EQ(p.publish.deny, std::vector<std::string>{"a.secret"});
  EXPECT_TRUE(p.subscribe.allow.empty());
  EXPECT_EQ(p.subscribe.deny, std::vector<std::string>{"x.> q1"});
  // Trailing blanks after a subject are no queue.
  EXPECT_EQ(apply_ok("authorization { users = [ {user: a, permissions: { subscribe: \"x \" }} ] }")
                .auth.users.at(0)
                .perms.value()
                .subscribe.allow,
            std::vector<std::string>{"x "});
}

TEST(ConfigPermissions, ShortNames) {
  server_options o = apply_ok("authorization { users = [ {user: a, permission: { pub: p, sub: s }} ] }");
  EXPECT_EQ(o.auth.users.at(0).perms.value().publish.allow, std::vector<std::string>{"p"});
  EXPECT_EQ(o.auth.users.at(0).perms.value().subscribe.allow, std::vector<std::string>{"s"});
}

TEST(ConfigPermissions, DefaultPermissionsGoToUsersWithoutTheirOwn) {
  server_options o = apply_ok(
      "authorization {\n"
      "  default_permissions: { publish: \"public.>\" }\n"
      "  users = [ {user: a}, {user: b, permissions: { publish: \"b.>\" }} ]\n"
      "}");
  EXPECT_EQ(o.auth.users.at(0).perms.value().publish.allow, std::vector<std::string>{"public.>"});
  EXPECT_EQ(o.auth.users.at(1).perms.value().publish.allow, std::vector<std::string>{"b.>"});
}

TEST(ConfigPermissions, Bad) {
  EXPECT_EQ(apply_error("authorization { users = [ {user: a, permissions: {\n  publish: \"foo..bar\"\n}} ] }"),
            "t.conf:2: field \"publish\": \"foo..bar\" is not a valid subject");
  EXPECT_EQ(apply_error("authorization { users = [ {user: a, permissions: {\n  subscribe: \"a b c\"\n}} ] }"),
            "t.conf:2: field \"subscribe\": \"a b c\" is not a valid subject");
  EXPECT_EQ(apply_error("authorization { users = [ {user: a, permissions: {\n  publish: [a, 5]\n}} ] }"),
            "t.conf:2: field \"publish\": expected a subject or an array of subjects, got integer 5");
  EXPECT_EQ(apply_error("authorization { users = [ {user: a, permissions: {\n  publish: { allow: a, only: b }\n}} ] }"),
            "t.conf:2: unknown field \"only\"");
  EXPECT_EQ(apply_error("authorization { users = [ {user: a, permissions: {\n  responses: true\n}} ] }"),
            "t.conf:2: unknown field \"responses\"");
}

// --- includes ---

TEST_F(ConfigFiles, LoadFile) {
  const std::string path = write("ferryd.conf", "port: 4001\nserver_name: from-file\n");
  server_options o;
  ASSERT_TRUE(load_config_file(path, o).is_ok());
  EXPECT_EQ(o.port, 4001);
  EXPECT_EQ(o.server_name, "from-file");
}

TEST_F(ConfigFiles, MissingFileIsAnIoError) {
  server_options o;
  status s = load_config_file((dir_ / "nope.conf").string(), o);
  EXPECT_EQ(s.code(), status_code::io_error);
  EXPECT_NE(s.message().find("nope.conf"), std::string::npos);
}

TEST_F(ConfigFiles, IncludeRelativeToTheIncludingFile) {
  write("conf/auth/users.conf", "users = [ {user: a, password: b} ]\n");
  write("conf/limits.conf", "max_payload: 4KB\ninclude ../shared/more.conf\n");
  write("shared/more.conf", "ping_max: 9\n");
  const std::string main = write("conf/ferryd.conf",
                                 "include ./limits.conf\n"
                                 "include \"limits.conf\"\n"
                                 "include 'limits.conf'\n"
                                 "authorization {\n  include auth/users.conf\n  timeout: 3\n}\n");
  server_options o;
  status s = load_config_file(main, o);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(o.max_payload, 4096);
  EXPECT_EQ(o.ping_max, 9);
  ASSERT_EQ(o.auth.users.size(), 1u);
  EXPECT_EQ(o.auth.users.at(0).name, "a");
  EXPECT_EQ(o.auth.timeout, milliseconds(3000));
}

TEST_F(ConfigFiles, IncludeAbsolutePath) {
  const std::string inc = write("abs.conf", "port: 4009\n");
  server_options o;
  ASSERT_TRUE(apply_config_text("include " + inc, "t.conf", "/nonexistent", o).is_ok());
  EXPECT_EQ(o.port, 4009);
}

TEST_F(ConfigFiles, ApplyTextResolvesIncludesAgainstBaseDir) {
  write("inc.conf", "port: 4010\n");
  server_options o;
  ASSERT_TRUE(apply_config_text("include inc.conf", "t.conf", dir_.string(), o).is_ok());
  EXPECT_EQ(o.port, 4010);
}

TEST_F(ConfigFiles, ErrorsInAnIncludedFileNameThatFile) {
  write("bad.conf", "port: 4001\n\nfoo: 1\n");
  const std::string main = write("main.conf", "# main\ninclude bad.conf\n");
  server_options o;
  status s = load_config_file(main, o);
  EXPECT_EQ(s.code(), status_code::invalid_argument);
  EXPECT_EQ(s.message(), (dir_ / "bad.conf").string() + ":3: unknown field \"foo\"");
}

TEST_F(ConfigFiles, MissingInclude) {
  const std::string main = write("main.conf", "port: 1\ninclude missing.conf\n");
  server_options o;
  status s = load_config_file(main, o);
  EXPECT_EQ(s.code(), status_code::invalid_argument);
  EXPECT_EQ(s.message(), main + ":2: include \"missing.conf\": open " + (dir_ / "missing.conf").string() +
                             ": No such file or directory");
}

TEST_F(ConfigFiles, IncludeCycle) {
  write("a.conf", "include b.conf\n");
  write("b.conf", "include a.conf\n");
  server_options o;
  status s = load_config_file((dir_ / "a.conf").string(), o);
  EXPECT_EQ(s.code(), status_code::invalid_argument);
  EXPECT_NE(s.message().find("includes nest too deeply"), std::string::npos) << s.message();
}

TEST_F(ConfigFiles, VariablesFromAnIncludedFile) {
  write("vars.conf", "TOKEN: from-include\n");
  server_options o;
  ASSERT_TRUE(
      apply_config_text("include vars.conf\nauthorization { token: $TOKEN }", "t.conf", dir_.string(), o).is_ok());
  EXPECT_EQ(o.auth.token, "from-include");
}

TEST_F(ConfigFiles, IncludedFileDoesNotSeeTheIncludersVariables) {
  // Each file is parsed on its own, as in nats-server.
  write("uses.conf", "port: $PORT_FROM_MAIN\n");
  server_options o;
  status s = apply_config_text("PORT_FROM_MAIN: 4011\ninclude uses.conf", "t.conf", dir_.string(), o);
  EXPECT_EQ(s.code(), status_code::invalid_argument);
  EXPECT_NE(s.message().find("variable \"PORT_FROM_MAIN\" is not defined"), std::string::npos) << s.message();
}

TEST_F(ConfigFiles, OptionsUnchangedOnError) {
  server_options o;
  o.port = 1234;
  EXPECT_FALSE(apply_config_text("port: 4001\nbogus: 1\n", "t.conf", "", o).is_ok());
  EXPECT_EQ(o.port, 1234);
}

// --- variables ---

TEST(ConfigVariables, EarlierTopLevelKey) {
  server_options o = apply_ok("SECRET: abc\nLIMIT = 2KB\nauthorization { token: $SECRET }\nmax_payload: $LIMIT\n");
  EXPECT_EQ(o.auth.token, "abc");
  EXPECT_EQ(o.max_payload, 2048);
}

TEST(ConfigVariables, EnclosingBlockKey) {
  server_options o = apply_ok("authorization {\n  USER_PW: pw\n  users = [ {user: a, password: $USER_PW} ]\n}");
  EXPECT_EQ(o.auth.users.at(0).password, "pw");
}

TEST(ConfigVariables, KnownKeyAsVariable) {
  server_options o = apply_ok("port: 4001\nhttp_port: $port\n");
  EXPECT_EQ(o.http_port, 4001);
}

TEST(ConfigVariables, BlockValues) {
  server_options o = apply_ok(
      "READ_ONLY: { publish: { deny: \">\" } }\n"
      "authorization { users = [ {user: a, permissions: $READ_ONLY} ] }\n");
  EXPECT_EQ(o.auth.users.at(0).perms.value().publish.deny, std::vector<std::string>{">"});
}

TEST(ConfigVariables, Environment) {
  ::setenv("FERRY_TEST_PORT", "4555", 1);
  ::setenv("FERRY_TEST_SIZE", "1K", 1);
  ::setenv("FERRY_TEST_NAME", "\"quoted name\"", 1);
  ::setenv("FERRY_TEST_TOKEN", "tok", 1);
  server_options o =
      apply_ok("port: $FERRY_TEST_PORT\nmax_payload: $FERRY_TEST_SIZE\nauthorization { token: $FERRY_TEST_TOKEN }\n");
  EXPECT_EQ(o.port, 4555);
  EXPECT_EQ(o.max_payload, 1000);
  EXPECT_EQ(o.auth.token, "tok");
  EXPECT_EQ(apply_error("server_name: $FERRY_TEST_NAME"),
            "t.conf:1: field \"server_name\": a server name can not contain spaces");
  ::setenv("FERRY_TEST_BAD", "a b", 1);
  EXPECT_EQ(apply_error("\n\nserver_name: $FERRY_TEST_BAD"),
            "t.conf:3: syntax error: environment variable FERRY_TEST_BAD: unexpected 'b' after the value");
  ::setenv("FERRY_TEST_SELF", "$FERRY_TEST_SELF", 1);
  EXPECT_EQ(apply_error("server_name: $FERRY_TEST_SELF"), "t.conf:1: variable \"FERRY_TEST_SELF\" refers to itself");
  for (const char* v : {"FERRY_TEST_PORT", "FERRY_TEST_SIZE", "FERRY_TEST_NAME", "FERRY_TEST_TOKEN", "FERRY_TEST_BAD",
                        "FERRY_TEST_SELF"}) {
    ::unsetenv(v);
  }
}

TEST(ConfigVariables, KeyWinsOverEnvironment) {
  ::setenv("FERRY_TEST_BOTH", "from-env", 1);
  EXPECT_EQ(apply_ok("FERRY_TEST_BOTH: from-file\nserver_name: $FERRY_TEST_BOTH").server_name, "from-file");
  ::unsetenv("FERRY_TEST_BOTH");
}

TEST(ConfigVariables, NotInsideQuotesOrWords) {
  EXPECT_EQ(apply_ok("server_name: \"$X\"").server_name, "$X");
  EXPECT_EQ(apply_ok("server_name: a$X").server_name, "a$X");
}

TEST(ConfigVariables, Undefined) {
  ::unsetenv("FERRY_TEST_UNDEFINED");
  EXPECT_EQ(apply_error("port: 1\nport: $FERRY_TEST_UNDEFINED"),
            "t.conf:2: variable \"FERRY_TEST_UNDEFINED\" is not defined (by an earlier key or in the environment)");
  // Only earlier keys count.
  EXPECT_EQ(apply_error("server_name: $LATER\nLATER: x"),
            "t.conf:1: variable \"LATER\" is not defined (by an earlier key or in the environment)");
}

TEST(ConfigVariables, UnusedDefinitionIsAnUnknownField) {
  EXPECT_EQ(apply_error("SECRET: abc\n"), "t.conf:1: unknown field \"SECRET\"");
  // Redefined after use: the second definition was never read.
  EXPECT_EQ(apply_error("A: 1\nport: $A\nA: 2\n"), "t.conf:3: unknown field \"A\"");
}

// --- errors, each with its line ---

TEST(ConfigErrors, UnknownFieldAtEveryLevel) {
  EXPECT_EQ(apply_error("port: 1\n\nfoo: 1"), "t.conf:3: unknown field \"foo\"");
  EXPECT_EQ(apply_error("authorization {\n  token: a\n  tokn: b\n}"), "t.conf:3: unknown field \"tokn\"");
  EXPECT_EQ(apply_error("authorization {\n  users = [\n    {user: a,\n     nkey: x}\n  ]\n}"),
            "t.conf:4: unknown field \"nkey\"");
  EXPECT_EQ(apply_error("tls {\n  cert_file: c\n  cipher_suites: []\n}"), "t.conf:3: unknown field \"cipher_suites\"");
  EXPECT_EQ(apply_error("cluster {\n  port: 6222\n}"), "t.conf:1: unknown field \"cluster\"");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(apply_error("port: \"4222\""), "t.conf:1: field \"port\": expected an integer, got string \"4222\"");
  EXPECT_EQ(apply_error("\nport: 1.5"), "t.conf:2: field \"port\": expected an integer, got float 1.5");
  EXPECT_EQ(apply_error("port: 99999999999"), "t.conf:1: field \"port\": 99999999999 is out of range");
  EXPECT_EQ(apply_error("server_name: 12"), "t.conf:1: field \"server_name\": expected a string, got integer 12");
  EXPECT_EQ(apply_error("debug: 1"),
            "t.conf:1: field \"debug\": expected a boolean (true/false, yes/no, on/off), got integer 1");
  EXPECT_EQ(apply_error("debug: \"true\""),
            "t.conf:1: field \"debug\": expected a boolean (true/false, yes/no, on/off), got string \"true\"");
  EXPECT_EQ(apply_error("authorization: token"),
            "t.conf:1: field \"authorization\": expected a map, got string \"token\"");
  EXPECT_EQ(apply_error("tls: [a]"), "t.conf:1: field \"tls\": expected a map, got an array");
  EXPECT_EQ(apply_error("authorization {\n  users = {user: a}\n}"),
            "t.conf:2: field \"users\": expected an array of users, got a map");
  EXPECT_EQ(apply_error("authorization {\n  users = [\n    {user: a}\n    5\n  ]\n}"),
            "t.conf:4: field \"users\": expected a map with user and password, got integer 5");
  EXPECT_EQ(apply_error("server_name: 2023-01-02T03:04:05Z"),
            "t.conf:1: field \"server_name\": expected a string, got date 2023-01-02T03:04:05Z");
  EXPECT_EQ(apply_error("listen: localhost"),
            "t.conf:1: field \"listen\": \"localhost\" is not host:port (the port is missing)");
  EXPECT_EQ(apply_error("listen: \"::1:4222\""),
            "t.conf:1: field \"listen\": \"::1:4222\": write an IPv6 host in brackets, [::1]:4222");
  EXPECT_EQ(apply_error("listen: \"host:http\""), "t.conf:1: field \"listen\": \"http\" is not a port number");
  EXPECT_EQ(apply_error("server_name: \"a b\""),
            "t.conf:1: field \"server_name\": a server name can not contain spaces");
}

TEST(ConfigErrors, AuthorizationConflicts) {
  EXPECT_EQ(apply_error("authorization {\n  token: t\n  user: u\n}"),
            "t.conf:1: field \"authorization\": can not have both a user/password and a token");
  EXPECT_EQ(apply_error("authorization { user: u, users: [{user: v}] }"),
            "t.conf:1: field \"authorization\": can not have both a single user/password and a users array");
  EXPECT_EQ(apply_error("authorization { token: t, users: [{user: v}] }"),
            "t.conf:1: field \"authorization\": can not have both a token and a users array");
  EXPECT_EQ(apply_error("authorization {\n  users = [\n    {password: p}\n  ]\n}"),
            "t.conf:3: field \"users\": a user entry needs a user");
  EXPECT_EQ(apply_error("authorization {\n  users = [\n    {user: a}\n    {user: a}\n  ]\n}"),
            "t.conf:4: field \"users\": duplicate user \"a\"");
}

TEST(ConfigErrors, Syntax) {
  struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"port: 1\nserver_name: my server",
       "t.conf:2: syntax error: expected a new line, ',' or ';' after the value of "
       "\"server_name\", found 's'"},
      {"port: 1\nauthorization {\n  token: t\n", "t.conf:2: syntax error: '{' is never closed"},
      {"a: [1, 2\n", "t.conf:1: syntax error: '[' is never closed"},
      {"a: [1 2]", "t.conf:1: syntax error: expected ',' or ']' after an array element, found '2'"},
      {"a: [1,, 2]", "t.conf:1: syntax error: unexpected ',' in an array"},
      {"\n\nport:\n4222", "t.conf:3: syntax error: expected a value for \"port\", found a new line"},
      {"port", "t.conf:1: syntax error: \"port\" has no value"},
      {"port: ", "t.conf:1: syntax error: \"port\" has no value"},
      {"server_name: \"abc", "t.conf:1: syntax error: string is never closed (missing \")"},
      {"server_name: 'abc", "t.conf:1: syntax error: string is never closed (missing ')"},
      {"server_name: (\nabc\n", "t.conf:1: syntax error: '(' is never closed (a ')' alone on a line ends it)"},
      {"\nserver_name: \"a\\qb\"", "t.conf:2: syntax error: invalid escape \\q (allowed: \\t \\n \\r \\\" \\\\ \\xHH)"},
      {"server_name: \"\\x4\"", "t.conf:1: syntax error: expected two hexadecimal digits after \\x"},
      {": 1", "t.conf:1: syntax error: expected a key, found ':'"},
      {"authorization {\n  , token: a\n}", "t.conf:2: syntax error: expected a key, found ','"},
      {"port: ,", "t.conf:1: syntax error: expected a value, found ','"},
      {"\"port: 1", "t.conf:1: syntax error: quoted key is never closed"},
      {"server_name: $", "t.conf:1: syntax error: expected a variable name after '$'"},
      {"include\nport: 1", "t.conf:1: syntax error: include needs a file name"},
  };
  for (const auto& c : cases) EXPECT_EQ(apply_error(c.text), c.message) << c.text;
}

TEST(ConfigErrors, DeepNestingIsRefused) {
  std::string deep = "a: " + std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(apply_error(deep), "t.conf:1: syntax error: arrays and maps nest too deeply");
}

TEST(ConfigErrors, LinesCountThroughCommentsAndBlocks) {
  EXPECT_EQ(apply_error("# one\n// two\nauthorization {\n  # four\n  users = [\n    {user: a}\n    {user: b, x: 1}\n"
                        "  ]\n}\n"),
            "t.conf:7: unknown field \"x\"");
}

// --- a complete file, as in docs/configuration.md ---

// The example in docs/configuration.md, verbatim.
constexpr const char* documented_example =
    "# ferryd.conf\n"
    "server_name: ferry-1\n"
    "listen: 0.0.0.0:4222          # or: host: 0.0.0.0 and port: 4222\n"
    "http: 127.0.0.1:8222          # monitoring; or http_port: 8222\n"
    "\n"
    "max_payload: 1MB\n"
    "max_pending: 64MB\n"
    "max_connections: 10000\n"
    "ping_interval: \"2m\"\n"
    "ping_max: 2\n"
    "write_deadline: \"10s\"\n"
    "\n"
    "# A key that is only read through $APP_PERMISSIONS is a variable, not a setting.\n"
    "APP_PERMISSIONS: {\n"
    "  publish: { allow: [\"orders.>\", \"_INBOX.>\"], deny: \"orders.internal.>\" }\n"
    "  subscribe: [\"orders.*\", \"work.* workers\", \"_INBOX.>\"]\n"
    "}\n"
    "\n"
    "authorization {\n"
    "  timeout: 2\n"
    "  users = [\n"
    "    { user: admin, password: $ADMIN_PASS }      # from the environment\n"
    "    { user: app, password: \"app-secret\", permissions: $APP_PERMISSIONS }\n"
    "  ]\n"
    "}\n"
    "\n"
    "include jetstream.conf        # relative to this file's directory\n"
    "\n"
    "logfile: /var/log/ferryd.log\n"
    "debug: false\n";

TEST_F(ConfigFiles, DocumentedExample) {
  write("jetstream.conf",
        "jetstream {\n"
        "  store_dir: /var/lib/ferryd\n"
        "  max_file_store: 10GB    # accepted, not enforced\n"
        "}\n");
  const std::string main = write("ferryd.conf", documented_example);
  ::setenv("ADMIN_PASS", "change-me", 1);
  server_options o;
  status s = load_config_file(main, o);
  ::unsetenv("ADMIN_PASS");
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(o.server_name, "ferry-1");
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 4222);
  EXPECT_EQ(o.http_host, "127.0.0.1");
  EXPECT_EQ(o.http_port, 8222);
  EXPECT_EQ(o.max_pending, 64 * 1048576);
  EXPECT_EQ(o.ping_interval, milliseconds(120000));
  ASSERT_EQ(o.auth.users.size(), 2u);
  EXPECT_EQ(o.auth.users.at(0).password, "change-me");
  EXPECT_EQ(o.auth.users.at(1).perms.value().publish.deny, std::vector<std::string>{"orders.internal.>"});
  EXPECT_EQ(o.auth.users.at(1).perms.value().subscribe.allow.size(), 3u);
  EXPECT_TRUE(o.jetstream);
  EXPECT_EQ(o.store_dir, "/var/lib/ferryd");
  EXPECT_EQ(o.log.file, "/var/log/ferryd.log");
  EXPECT_TRUE(validate(o).empty()) << validate(o);

  // The error the documentation shows when the variable is missing.
  server_options unchanged;
  EXPECT_EQ(load_config_file(main, unchanged).message(),
            main + ":22: variable \"ADMIN_PASS\" is not defined (by an earlier key or in the environment)");
}

// Every prefix of a real file, cut at every byte, either applies or gives invalid_argument
// (never a crash, a hang or another code).
TEST(ConfigErrors, EveryPrefixOfTheExample) {
  const std::string text = documented_example;
  for (std::size_t n = 0; n <= text.size(); ++n) {
    server_options o;
    status s = apply_config_text(std::string_view(text).substr(0, n), "t.conf", "/nonexistent", o);
    EXPECT_TRUE(s.is_ok() || s.code() == status_code::invalid_argument) << n << ": " << s.to_string();
  }
}

}  // namespace
}  // namespace ferry::broker
