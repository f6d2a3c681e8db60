// Config syntax: separators, strings, sizes, durations, variables, and errors with lines.
#include "broker/config_test_util.h"

namespace ferry::broker {
namespace {
using namespace config_test;
namespace fs = std::filesystem;

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

}  // namespace
}  // namespace ferry::broker
