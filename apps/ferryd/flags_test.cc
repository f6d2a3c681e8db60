#include "flags.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ferry::ferryd {
namespace {

result<arguments> parse(std::vector<std::string> a) { return parse_arguments(a); }

TEST(Flags, Defaults) {
  auto r = parse({});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->options.host, "127.0.0.1");
  EXPECT_EQ(r->options.port, 4222);
  EXPECT_FALSE(r->options.jetstream);
}

TEST(Flags, NatsServerNamesAndForms) {
  auto r = parse({"-a",         "0.0.0.0",          "--port=-1", "-n",     "edge", "-m",  "8222", "-js",        "-sd",
                  "/data",      "--user",           "u",         "--pass", "p",    "-DV", "-l",   "/tmp/x.log", "-P",
                  "/tmp/x.pid", "--ports_file_dir", "/tmp"});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const auto& o = r->options;
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, -1);
  EXPECT_EQ(o.server_name, "edge");
  EXPECT_EQ(o.http_port, 8222);
  EXPECT_TRUE(o.jetstream);
  EXPECT_EQ(o.store_dir, "/data");
  ASSERT_EQ(o.auth.users.size(), 1u);
  EXPECT_EQ(o.auth.users[0].name, "u");
  EXPECT_EQ(o.auth.users[0].password, "p");
  EXPECT_EQ(o.log.level, log_level::trace);
  EXPECT_EQ(o.log.file, "/tmp/x.log");
  EXPECT_EQ(o.pid_file, "/tmp/x.pid");
  EXPECT_EQ(o.ports_file_dir, "/tmp");
}

TEST(Flags, TlsAndToken) {
  auto r = parse({"--tlscert", "c.pem", "--tlskey", "k.pem", "--tlscacert", "ca.pem", "--tlsverify", "--auth", "t"});
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->options.tls.enabled);
  EXPECT_TRUE(r->options.tls.verify);
  EXPECT_EQ(r->options.tls.ca_file, "ca.pem");
  EXPECT_EQ(r->options.auth.token, "t");
}

TEST(Flags, HelpAndVersion) {
  EXPECT_TRUE(parse({"-h"})->help);
  EXPECT_TRUE(parse({"--version"})->version);
  EXPECT_NE(usage().find("--ports_file_dir"), std::string::npos);
}

TEST(Flags, Errors) {
  auto unknown = parse({"--bogus"});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("unknown flag: --bogus"), std::string::npos);
  auto missing = parse({"-p"});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("flag needs an argument: -p"), std::string::npos);
  auto bad = parse({"-p", "abc"});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("not an integer"), std::string::npos);
  EXPECT_FALSE(parse({"stray"}).is_ok());
  EXPECT_FALSE(parse({"-js=maybe"}).is_ok());
}

TEST(Flags, CommandLineOverridesTheConfigFile) {
  auto dir = std::filesystem::temp_directory_path() / "ferryd-flags-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "f.conf") << "port: 5000\nserver_name: fromfile\nmax_payload: 2048\n";
  auto r = parse({"-c", (dir / "f.conf").string(), "-p", "6000"});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->options.port, 6000);
  EXPECT_EQ(r->options.server_name, "fromfile");
  EXPECT_EQ(r->options.max_payload, 2048);
  std::ofstream(dir / "bad.conf") << "port: 5000\nnope: 1\n";
  auto bad = parse({"-c", (dir / "bad.conf").string()});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("bad.conf:2"), std::string::npos) << bad.status().message();
  auto missing = parse({"-c", (dir / "missing.conf").string()});
  EXPECT_FALSE(missing.is_ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::ferryd
