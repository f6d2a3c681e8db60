// The ferryd and ferry binaries as users run them: flags, ports and pid files, signals, clear
// errors and exit codes, and the CLI's pub/sub/request/reply against a running ferryd.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_util.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(Ferryd, VersionHelpAndBadFlags) {
  auto v = run(ferryd_path() + " --version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("ferryd: v"), std::string::npos);
  auto h = run(ferryd_path() + " -h");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("Usage: ferryd [options]"), std::string::npos);
  auto bad = run(ferryd_path() + " --frobnicate");
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.out, "ferryd: unknown flag: --frobnicate (see ferryd --help)\n");
}

TEST(Ferryd, ConfigErrorsNameTheLineAndStopStartup) {
  const std::string dir = make_temp_dir("ferry-cli-");
  std::ofstream(dir + "/bad.conf") << "port: 4333\nmax_payload: 1MB\nmystery_key: 1\n";
  auto r = run(ferryd_path() + " -c " + dir + "/bad.conf");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.conf:3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mystery_key"), std::string::npos) << r.out;
  std::ofstream(dir + "/syntax.conf") << "authorization {\n  token: x\n";
  auto s = run(ferryd_path() + " -c " + dir + "/syntax.conf");
  EXPECT_EQ(s.code, 1);
  EXPECT_NE(s.out.find("syntax.conf:"), std::string::npos) << s.out;
  fs::remove_all(dir);
}

// -t checks a configuration and exits, as nats-server -t does; a duration given as a bare number
// (an unquoted 1m is the size 1000000) is valid but warned about.
TEST(Ferryd, TestConfigurationAndWarnings) {
  const std::string dir = make_temp_dir("ferry-cli-");
  std::ofstream(dir + "/ok.conf") << "port: 4333\nwrite_deadline: \"5s\"\n";
  auto ok = run(ferryd_path() + " -t -c " + dir + "/ok.conf");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(ok.out, "ferryd: configuration file " + dir + "/ok.conf is valid\n");
  std::ofstream(dir + "/warn.conf") << "port: 4333\nping_interval: 1m\n";
  auto warn = run(ferryd_path() + " -t -c " + dir + "/warn.conf");
  EXPECT_EQ(warn.code, 0) << warn.out;
  EXPECT_NE(warn.out.find("ferryd: warning: " + dir +
                          "/warn.conf:2: ping_interval should be converted to a duration (\"2s\", \"1m30s\"): 1000000 "
                          "is read as seconds (an unquoted 1m is the size 1000000; for a duration quote it: \"1m\")"),
            std::string::npos)
      << warn.out;
  std::ofstream(dir + "/bad.conf") << "port: 4333\nmystery: 1\n";
  auto bad = run(ferryd_path() + " -t -c " + dir + "/bad.conf");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("bad.conf:2"), std::string::npos) << bad.out;
  std::ofstream(dir + "/big.conf") << "max_payload: 100MB\n";
  auto big = run(ferryd_path() + " -t -c " + dir + "/big.conf");
  EXPECT_EQ(big.code, 1);
  EXPECT_EQ(big.out, "ferryd: max_payload can not exceed 64 MiB\n");
  // Flags alone are checked too.
  auto flags = run(ferryd_path() + " -t -p 4333 -m 8222");
  EXPECT_EQ(flags.code, 0) << flags.out;
  EXPECT_EQ(flags.out, "ferryd: configuration (flags only) is valid\n");
  fs::remove_all(dir);
}

TEST(Ferryd, PortsFilePidFileAndGracefulSigterm) {
  const std::string dir = make_temp_dir("ferry-cli-");
  child_process d;
  ASSERT_TRUE(d.start({ferryd_path(), "-p", "-1", "-m", "-1", "--ports_file_dir", dir, "-P", dir + "/ferryd.pid"},
                      dir + "/log"));
  const fs::path ports = fs::path(dir) / ("ferryd_" + std::to_string(d.pid()) + ".ports");
  for (int i = 0; i < 200 && !fs::exists(ports); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(fs::exists(ports)) << slurp(dir + "/log");
  const std::string text = slurp(ports);
  // {"nats":["nats://127.0.0.1:PORT"],"monitoring":["http://127.0.0.1:PORT"]}, as nats-server writes.
  ASSERT_EQ(text.rfind("{\"nats\":[\"nats://127.0.0.1:", 0), 0u) << text;
  EXPECT_NE(text.find("\"monitoring\":[\"http://127.0.0.1:"), std::string::npos) << text;
  const int port = std::stoi(text.substr(text.find("127.0.0.1:") + 10));
  raw_client c;
  ASSERT_TRUE(c.connect(port));
  ASSERT_TRUE(c.handshake());
  EXPECT_EQ(slurp(dir + "/ferryd.pid"), std::to_string(d.pid()));
  EXPECT_EQ(d.stop(), 0) << "SIGTERM is a clean shutdown";
  EXPECT_TRUE(c.wait_closed());
  EXPECT_FALSE(fs::exists(ports)) << "the ports file is removed on shutdown";
  const std::string log = slurp(dir + "/log");
  EXPECT_NE(log.find("Server is ready"), std::string::npos);
  EXPECT_NE(log.find("Server Exiting"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Ferryd, ATakenMonitoringPortStopsStartup) {
  const std::string dir = make_temp_dir("ferry-cli-");
  const int http = free_port();
  child_process first;
  ASSERT_TRUE(first.start({ferryd_path(), "-p", "-1", "-m", std::to_string(http)}, dir + "/first.log"));
  ASSERT_TRUE(first.wait_for_port(http));
  auto second = run(ferryd_path() + " -p -1 -m " + std::to_string(http));
  EXPECT_EQ(second.code, 1);
  EXPECT_NE(second.out.find("ferryd: can't listen to the monitor port: listen tcp 127.0.0.1:" + std::to_string(http) +
                            ": bind: address already in use\n"),
            std::string::npos)
      << second.out;
  EXPECT_EQ(first.stop(), 0);
  fs::remove_all(dir);
}

TEST(FerryCli, NoServerIsOneLineAndExitCodeOne) {
  const int port = free_port();
  for (const char* cmd : {" pub x hi", " sub x --count 1", " request x hi", " reply x ok", " bench --msgs 10"}) {
    auto r = run(bin("ferry") + " --server nats://127.0.0.1:" + std::to_string(port) + cmd);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.out, "ferry: could not connect to nats://127.0.0.1:" + std::to_string(port) +
                         ": No server available for connection\n")
        << cmd;
  }
  auto help = run(bin("ferry") + " pub --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--count"), std::string::npos);
}

TEST(FerryCli, PubSubRequestReplyAndHeaders) {
  child_process d;
  const int port = free_port();
  const int http = free_port();
  ASSERT_TRUE(d.start({ferryd_path(), "-p", std::to_string(port), "-m", std::to_string(http)}));
  ASSERT_TRUE(d.wait_for_port(port));
  const std::string ferry = bin("ferry") + " -s nats://127.0.0.1:" + std::to_string(port);
  const std::string dir = make_temp_dir("ferry-cli-");
  child_process sub;
  ASSERT_TRUE(
      sub.start({bin("ferry"), "-s", "nats://127.0.0.1:" + std::to_string(port), "sub", "cli.>", "--count", "2"},
                dir + "/sub.out"));
  child_process rep;
  ASSERT_TRUE(rep.start({bin("ferry"), "-s", "nats://127.0.0.1:" + std::to_string(port), "reply", "svc",
                         "pong {{Count}}", "--count", "1"},
                        dir + "/rep.out"));
  // Wait until both subscriptions are registered (the request below must find a responder).
  for (int i = 0; i < 300; ++i) {
    auto z = run("curl -s http://127.0.0.1:" + std::to_string(http) + "/subsz");
    if (z.out.find("\"num_subscriptions\": 2") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  auto p = run(ferry + " pub cli.a 'n={{Count}}' -H X-Id:7 --quiet");
  EXPECT_EQ(p.code, 0) << p.out;
  int rc = sub.stop(5s);
  (void)rc;
  const std::string got = slurp(dir + "/sub.out");
  EXPECT_NE(got.find("Received on \"cli.a\""), std::string::npos) << got;
  EXPECT_NE(got.find("X-Id: 7"), std::string::npos) << got;
  EXPECT_NE(got.find("n=1"), std::string::npos) << got;
  auto r = run(ferry + " request svc ping --raw");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "pong 1\n");
  auto nr = run(ferry + " request nobody.home x --timeout 5s");
  EXPECT_EQ(nr.code, 1);
  EXPECT_EQ(nr.out, "ferry: no responders on \"nobody.home\"\n");
  auto big = run("head -c 2000000 /dev/zero | " + ferry + " pub x -");
  EXPECT_EQ(big.code, 1);
  EXPECT_NE(big.out.find("exceeds the server's max_payload of 1048576"), std::string::npos) << big.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::test
