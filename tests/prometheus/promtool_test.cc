// What ferryd's /metrics and the SDK's metrics registry write is what Prometheus accepts:
// Debian's promtool ("promtool check metrics", the exposition parser and linter of Prometheus
// itself) reads it without a complaint, label values with quotes, backslashes and newlines
// included. make deps installs promtool (package prometheus).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "ferry/metrics.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

bool have_promtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

struct check_result {
  int code = -1;
  std::string out;
};

// Runs `promtool check metrics` on `text`.
check_result promtool(const std::string& text) {
  const std::string dir = make_temp_dir("ferry-promtool-");
  { std::ofstream(dir + "/metrics.txt", std::ios::binary) << text; }
  check_result r;
  FILE* p = ::popen(("promtool check metrics < " + dir + "/metrics.txt 2>&1").c_str(), "r");
  if (p != nullptr) {
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  std::filesystem::remove_all(dir);
  return r;
}

class Promtool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_promtool()) GTEST_SKIP() << "promtool is not installed (make deps installs Debian's prometheus)";
  }
};

TEST_F(Promtool, RejectsABrokenExposition) {
  // The control: promtool does find problems, so a pass below means something.
  EXPECT_NE(promtool("# TYPE x counter\nx{a=\"1\n\"} 1\n").code, 0);
  EXPECT_NE(promtool("# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n").code, 0)
      << "a counter without _total is a lint problem";
}

TEST_F(Promtool, AcceptsFerrydMetrics) {
  const std::string dir = make_temp_dir("ferry-promtool-");
  const int port = free_port();
  const int http = free_port();
  child_process d;
  ASSERT_TRUE(d.start({ferryd_path(), "-p", std::to_string(port), "-m", std::to_string(http), "-js", "-sd", dir},
                      dir + "/log"));
  ASSERT_TRUE(d.wait_for_port(port));
  raw_client c;
  ASSERT_TRUE(c.connect(port));
  ASSERT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"headers":true,"protocol":1})"));
  // A stream and a consumer, so that the labelled families have samples.
  EXPECT_NE(raw_request(c, "$JS.API.STREAM.CREATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"]})", 1)
                .find("\"config\""),
            std::string::npos);
  EXPECT_NE(raw_request(c, "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.worker",
                        R"({"stream_name":"ORDERS","config":{"durable_name":"worker","ack_policy":"explicit"}})", 2)
                .find("\"config\""),
            std::string::npos);
  EXPECT_NE(raw_request(c, "orders.new", "x", 3).find("\"seq\":1"), std::string::npos);
  httplib::Client h("127.0.0.1", http);
  auto r = h.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_NE(r->body.find("ferryd_consumer_num_ack_pending{stream=\"ORDERS\",consumer=\"worker\"}"), std::string::npos)
      << r->body;
  const check_result checked = promtool(r->body);
  EXPECT_EQ(checked.code, 0) << checked.out << "\n" << r->body;
  EXPECT_EQ(d.stop(), 0);
  std::filesystem::remove_all(dir);
}

TEST_F(Promtool, AcceptsSdkMetricsWithAwkwardHandlerNames) {
  metrics_registry registry;
  for (const char* name : {"orders", "with \"quotes\"", "back\\slash", "two\nlines"}) {
    auto& m = registry.handler(name);
    m.received.fetch_add(3);
    m.record("ack", std::chrono::microseconds(1500));
    m.record("retry", std::chrono::milliseconds(30));
    m.record("drop", std::chrono::seconds(20));
  }
  const std::string text = registry.prometheus_text();
  ASSERT_NE(text.find("handler=\"two\\nlines\""), std::string::npos) << text;
  const check_result checked = promtool(text);
  EXPECT_EQ(checked.code, 0) << checked.out << "\n" << text;
}

}  // namespace
}  // namespace ferry::test
