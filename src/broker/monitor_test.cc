// Monitoring endpoints: nats-server's paths and field names, and Prometheus text.
#include "broker/monitor.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "broker/server.h"
#include "raw_client.h"

namespace ferry::broker {
namespace {

struct fixture {
  std::unique_ptr<server> srv;
  fixture() {
    spdlog::set_level(spdlog::level::off);
    server_options o;
    o.port = 0;
    o.http_port = -1;
    o.server_name = "mon-test";
    auto s = server::start(o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    srv = std::move(*s);
  }
  nlohmann::json get(const std::string& path, std::string* content_type = nullptr) {
    httplib::Client c("127.0.0.1", srv->http_port());
    auto r = c.Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path;
    if (content_type) *content_type = r->get_header_value("Content-Type");
    return nlohmann::json::parse(r->body);
  }
};

TEST(Monitor, Varz) {
  fixture f;
  test::raw_client c;
  ASSERT_TRUE(c.connect(f.srv->port()));
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("SUB a 1\r\nPUB a 3\r\nabc\r\nPING\r\n") && c.read_until("PONG\r\n"));
  std::string ct;
  auto v = f.get("/varz", &ct);
  EXPECT_EQ(ct, "application/json");
  EXPECT_EQ(v["server_name"], "mon-test");
  EXPECT_EQ(v["port"], f.srv->port());
  EXPECT_EQ(v["http_port"], f.srv->http_port());
  EXPECT_EQ(v["connections"], 1);
  EXPECT_EQ(v["subscriptions"], 1);
  EXPECT_EQ(v["in_msgs"], 1);
  EXPECT_EQ(v["out_msgs"], 1);
  EXPECT_EQ(v["in_bytes"], 3);
  EXPECT_EQ(v["out_bytes"], 3);
  EXPECT_EQ(v["max_payload"], 1048576);
  EXPECT_EQ(v["auth_timeout"], 2);
  for (const char* k : {"server_id", "version", "start", "now", "uptime", "mem", "cores", "total_connections",
                        "slow_consumers", "ping_interval", "write_deadline", "max_pending"})
    EXPECT_TRUE(v.contains(k)) << k;
}

TEST(Monitor, ConnzWithSubscriptions) {
  fixture f;
  test::raw_client c;
  ASSERT_TRUE(c.connect(f.srv->port()));
  ASSERT_TRUE(c.handshake(R"({"verbose":false,"name":"probe","lang":"C","version":"1.2.3"})"));
  ASSERT_TRUE(c.send("SUB x.* 1\r\nSUB y 2\r\nPING\r\n") && c.read_until("PONG\r\n"));
  auto z = f.get("/connz?subs=1");
  ASSERT_EQ(z["num_connections"], 1);
  auto conn = z["connections"][0];
  EXPECT_EQ(conn["name"], "probe");
  EXPECT_EQ(conn["lang"], "C");
  EXPECT_EQ(conn["version"], "1.2.3");
  EXPECT_EQ(conn["subscriptions"], 2);
  EXPECT_EQ(conn["kind"], "Client");
  EXPECT_EQ(conn["ip"], "127.0.0.1");
  auto list = conn["subscriptions_list"].get<std::vector<std::string>>();
  std::sort(list.begin(), list.end());
  EXPECT_EQ(list, (std::vector<std::string>{"x.*", "y"}));
  auto plain = f.get("/connz");
  EXPECT_FALSE(plain["connections"][0].contains("subscriptions_list"));
  auto paged = f.get("/connz?offset=1");
  EXPECT_EQ(paged["num_connections"], 0);
  EXPECT_EQ(paged["total"], 1);
}

TEST(Monitor, SubszAndHealthz) {
  fixture f;
  test::raw_client c;
  ASSERT_TRUE(c.connect(f.srv->port()));
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("SUB q.a grp 7\r\nPUB q.a 1\r\nx\r\nPUB q.a 1\r\nx\r\nPING\r\n") && c.read_until("PONG\r\n"));
  auto s = f.get("/subsz");
  EXPECT_EQ(s["num_subscriptions"], 1);
  EXPECT_EQ(s["num_inserts"], 1);
  EXPECT_EQ(s["max_fanout"], 1);
  auto d = f.get("/subsz?subs=1");
  ASSERT_EQ(d["subscriptions_list"].size(), 1u);
  EXPECT_EQ(d["subscriptions_list"][0]["subject"], "q.a");
  EXPECT_EQ(d["subscriptions_list"][0]["qgroup"], "grp");
  EXPECT_EQ(d["subscriptions_list"][0]["sid"], "7");
  EXPECT_EQ(f.get("/healthz"), nlohmann::json::parse(R"({"status":"ok"})"));
}

TEST(Monitor, PrometheusMetrics) {
  fixture f;
  test::raw_client c;
  ASSERT_TRUE(c.connect(f.srv->port()));
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("SUB m 1\r\nPUB m 4\r\nabcd\r\nPING\r\n") && c.read_until("PONG\r\n"));
  httplib::Client h("127.0.0.1", f.srv->http_port());
  auto r = h.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  for (const char* line : {"ferryd_connections 1\n", "ferryd_subscriptions 1\n", "ferryd_in_msgs_total 1\n",
                           "ferryd_out_msgs_total 1\n", "ferryd_in_bytes_total 4\n", "ferryd_out_bytes_total 4\n",
                           "ferryd_slow_consumers_total 0\n", "# TYPE ferryd_in_msgs_total counter\n"})
    EXPECT_NE(r->body.find(line), std::string::npos) << line;
  auto missing = h.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "404 page not found\n");
}

TEST(Monitor, Formatting) {
  EXPECT_EQ(format_uptime(std::chrono::seconds(0)), "0s");
  EXPECT_EQ(format_uptime(std::chrono::seconds(61)), "1m1s");
  EXPECT_EQ(format_uptime(std::chrono::seconds(90061)), "1d1h1m1s");
  EXPECT_EQ(format_time(std::chrono::system_clock::time_point(std::chrono::seconds(0))), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(std::chrono::system_clock::time_point(std::chrono::milliseconds(1500))),
            "1970-01-01T00:00:01.5Z");
}

}  // namespace
}  // namespace ferry::broker
