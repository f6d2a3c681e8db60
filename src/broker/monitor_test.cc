// Monitoring endpoints: nats-server's paths and field names, and Prometheus text.
#include "broker/monitor.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "broker/server.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::broker {
namespace {

struct monitor_fixture {
  std::unique_ptr<server> srv;
  explicit monitor_fixture(std::unique_ptr<server> s) : srv(std::move(s)) {}
  monitor_fixture() {
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
  monitor_fixture f;
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
  monitor_fixture f;
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
  monitor_fixture f;
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
  monitor_fixture f;
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

// nats-server refuses to start when its monitoring port is taken; so does ferryd (no SO_REUSEPORT:
// two servers answering one port at random would be worse than either).
TEST(Monitor, ATakenPortIsRefused) {
  monitor_fixture f;
  server_options o;
  o.port = 0;
  o.http_port = f.srv->http_port();
  auto second = server::start(o);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().message(), "can't listen to the monitor port: listen tcp 127.0.0.1:" +
                                           std::to_string(f.srv->http_port()) + ": bind: address already in use");
  EXPECT_EQ(f.get("/healthz"), nlohmann::json::parse(R"({"status":"ok"})")) << "the first one still serves";
}

TEST(Monitor, HttpDetails) {
  monitor_fixture f;
  test::raw_client c;
  ASSERT_TRUE(c.connect(f.srv->http_port(), false));
  // Two requests on one kept-alive connection, a HEAD without a body, a percent-encoded query.
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.read_until("{\"status\":\"ok\"}"));
  EXPECT_NE(c.take().find("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"),
            std::string::npos);
  ASSERT_TRUE(c.send("HEAD /healthz HTTP/1.1\r\n\r\nGET /subsz?subs=%31 HTTP/1.1\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(c.wait_closed());
  const std::string both = c.take();
  EXPECT_EQ(both.find("HTTP/1.1 200 OK"), 0u) << both;
  EXPECT_EQ(both.find("{\"status\""), std::string::npos) << "HEAD has no body: " << both;
  EXPECT_NE(both.find("\"subscriptions_list\""), std::string::npos) << "subs=%31 is subs=1: " << both;
  test::raw_client post;
  ASSERT_TRUE(post.connect(f.srv->http_port(), false));
  ASSERT_TRUE(post.send("POST /varz HTTP/1.1\r\nContent-Length: 2\r\n\r\nxx"));
  ASSERT_TRUE(post.wait_closed());
  EXPECT_EQ(post.buffer().find("HTTP/1.1 405 Method Not Allowed"), 0u) << post.buffer();
  test::raw_client junk;
  ASSERT_TRUE(junk.connect(f.srv->http_port(), false));
  ASSERT_TRUE(junk.send("NONSENSE\r\n\r\n"));
  ASSERT_TRUE(junk.wait_closed());
  EXPECT_EQ(junk.buffer().find("HTTP/1.1 400 Bad Request"), 0u) << junk.buffer();
  test::raw_client huge;
  ASSERT_TRUE(huge.connect(f.srv->http_port(), false));
  ASSERT_TRUE(huge.send("GET / HTTP/1.1\r\nX: " + std::string(20000, 'x')));
  ASSERT_TRUE(huge.wait_closed());
  EXPECT_EQ(huge.buffer().find("HTTP/1.1 431"), 0u) << huge.buffer().substr(0, 80);
}

// Sixteen clients that send a request one byte at a time (slowloris) neither keep /healthz from
// answering at once nor hold their connection past the header timeout (5 s for the whole head,
// however steadily the bytes come).
TEST(Monitor, SlowClientsNeitherBlockHealthzNorStay) {
  monitor_fixture f;
  constexpr int n = 16;
  std::vector<std::unique_ptr<test::raw_client>> slow;
  for (int i = 0; i < n; ++i) {
    slow.push_back(std::make_unique<test::raw_client>());
    ASSERT_TRUE(slow.back()->connect(f.srv->http_port(), false));
  }
  const std::string request = "GET /varz HTTP/1.1\r\nHost: slow\r\nX-Padding: " + std::string(100, 'p') + "\r\n\r\n";
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (std::size_t at = 0; at < request.size() - 1 && !done; ++at) {  // never the last byte
      for (auto& c : slow) c->send(std::string_view(request).substr(at, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    const auto asked = std::chrono::steady_clock::now();
    EXPECT_EQ(f.get("/healthz"), nlohmann::json::parse(R"({"status":"ok"})"));
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(1)) << "healthz try " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& c : slow) {
    EXPECT_TRUE(c->wait_closed(std::chrono::seconds(8))) << "a trickling request head is cut off";
  }
  const auto held = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(held, std::chrono::milliseconds(4500));
  EXPECT_LT(held, std::chrono::seconds(8));
  done = true;
  trickle.join();
  EXPECT_EQ(f.get("/healthz"), nlohmann::json::parse(R"({"status":"ok"})"));
}

// /jsz, and /varz's "jetstream" object: {} without JetStream, its config and stats with it.
TEST(Monitor, JetStreamInJszAndVarz) {
  monitor_fixture off;
  EXPECT_EQ(off.get("/varz")["jetstream"], nlohmann::json::object());
  EXPECT_EQ(off.get("/jsz")["disabled"], true);

  spdlog::set_level(spdlog::level::off);
  const std::string dir = test::make_temp_dir("ferry-monitor-js-");
  server_options o;
  o.port = 0;
  o.http_port = -1;
  o.jetstream = true;
  o.store_dir = dir;
  auto srv = server::start(o);
  ASSERT_TRUE(srv.is_ok()) << srv.status().to_string();
  monitor_fixture on{std::move(*srv)};
  test::raw_client c;
  ASSERT_TRUE(c.connect(on.srv->port()));
  ASSERT_TRUE(c.handshake());
  const std::string cfg = R"({"name":"ORDERS","subjects":["orders.>"],"storage":"file"})";
  ASSERT_TRUE(c.send("SUB r 1\r\nPUB $JS.API.STREAM.CREATE.ORDERS r " + std::to_string(cfg.size()) + "\r\n" + cfg +
                     "\r\nPUB orders.1 r 5\r\nhello\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("\"seq\":1"));
  const auto jsz = on.get("/jsz");
  EXPECT_EQ(jsz["streams"], 1);
  EXPECT_EQ(jsz["messages"], 1);
  EXPECT_EQ(jsz["config"]["store_dir"], dir);
  EXPECT_GE(jsz["api"]["total"].get<int>(), 1);
  const auto varz = on.get("/varz")["jetstream"];
  EXPECT_EQ(varz["config"], jsz["config"]);
  EXPECT_EQ(varz["stats"]["accounts"], 1);
  EXPECT_EQ(varz["stats"]["api"]["total"], jsz["api"]["total"]);
  EXPECT_GT(varz["stats"]["storage"].get<std::uint64_t>(), 0u);
  on.srv.reset();
  std::filesystem::remove_all(dir);
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
