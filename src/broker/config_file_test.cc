// Config keys onto server_options: every key, permissions, includes, the documented example.
#include "broker/config_test_util.h"

namespace ferry::broker {
namespace {
using namespace config_test;
namespace fs = std::filesystem;

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

TEST(ConfigKeys, JetStreamSync) {
  EXPECT_TRUE(apply_ok("jetstream { sync_interval: always }").sync_always);
  auto o = apply_ok("jetstream { sync_interval: \"10s\" }");
  EXPECT_FALSE(o.sync_always);
  EXPECT_EQ(o.sync_interval, std::chrono::seconds(10));
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
