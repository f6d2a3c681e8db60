// The OTLP exporter against a receiver of the test's own on loopback: what it sends is decoded by
// the OpenTelemetry JS project's protobuf types (npm @opentelemetry/otlp-transformer) and every
// field checked; 503 with Retry-After is retried after the wait; other errors drop the batch; a
// full queue drops spans without blocking; shutdown flushes; a partial success is counted.
#include "ferry/otlp.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "process.h"
#include "raw_client.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// An OTLP/HTTP receiver that answers with the statuses it is given, in turn (then 200).
class receiver {
 public:
  struct request {
    clock::time_point at;
    std::string body, content_type;
  };
  explicit receiver(std::deque<int> statuses = {}, std::string ok_body = "") : statuses_(std::move(statuses)) {
    server_.Post("/v1/traces", [this, ok_body](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      requests_.push_back({clock::now(), req.body, req.get_header_value("Content-Type")});
      const int st = statuses_.empty() ? 200 : statuses_.front();
      if (!statuses_.empty()) statuses_.pop_front();
      res.status = st;
      if (st == 503) res.set_header("Retry-After", "1");
      res.set_content(st == 200 ? ok_body : "busy", st == 200 ? "application/x-protobuf" : "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~receiver() {
    server_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }
  std::vector<request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<request> requests_;
};

span make_span(std::uint64_t n, bool child) {
  span s;
  s.trace_id = {.high = 0x0102030405060708ULL, .low = 0x090a0b0c0d0e0f10ULL + n};
  s.span_id = {.value = 0x1112131415161718ULL + n};
  if (child) s.parent_span_id = {.value = 0x2122232425262728ULL};
  s.name = "process orders.created";
  s.start = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789LL));
  s.end = s.start + std::chrono::microseconds(1500);
  s.outcome = child ? "drop" : "ack";
  s.error = child ? invalid_argument("not an order") : status::ok();
  s.system = "jetstream";
  s.destination = "orders.created";
  s.message_id = "msg-" + std::to_string(n);
  s.consumer_group = "inventory";
  s.handler = "reserve";
  s.attempt = child ? 3 : 1;
  s.saga_id = child ? "" : "order-42";
  return s;
}

otlp_options fast(const std::string& endpoint) {
  return {.endpoint = endpoint,
          .service_name = "inventory",
          .resource_attributes = {{"deployment.environment", "test"}},
          .max_batch = 16,
          .batch_delay = 50ms,
          .initial_backoff = 100ms};
}

// Decodes `body` with the OpenTelemetry JS types; null when they are not installed.
nlohmann::json foreign_decode(const std::string& body) {
  const std::string js = FERRY_JS_DIR;
  if (!std::filesystem::exists(js + "/node_modules/@opentelemetry/otlp-transformer")) return nullptr;
  const std::string dir = test::make_temp_dir("ferry-otlp");
  { std::ofstream(dir + "/body.bin", std::ios::binary) << body; }
  FILE* p = ::popen(("cd " + js + " && node otlp_decode.js " + dir + "/body.bin 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  std::filesystem::remove_all(dir);
  auto j = nlohmann::json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out;
  return j;
}

// attributes: [{key, value: {stringValue|intValue}}] -> {key: value as text}.
std::map<std::string, std::string> attrs(const nlohmann::json& list) {
  std::map<std::string, std::string> m;
  for (const auto& kv : list) {
    const auto& v = kv.at("value");
    m[kv.at("key").get<std::string>()] =
        v.contains("stringValue") ? v["stringValue"].get<std::string>() : v.at("intValue").get<std::string>();
  }
  return m;
}

TEST(Otlp, AForeignDecoderReadsEveryField) {
  receiver rx;
  auto e = otlp_exporter::create(fast(rx.endpoint()));
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  (*e)->export_span(make_span(1, false));
  (*e)->export_span(make_span(2, true));
  ASSERT_TRUE((*e)->shutdown(10s).is_ok());
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].content_type, "application/x-protobuf");
  nlohmann::json j = foreign_decode(reqs[0].body);
  if (j.is_null()) GTEST_SKIP() << "npm @opentelemetry/otlp-transformer is not installed (make deps: npm ci)";
  ASSERT_EQ(j["resourceSpans"].size(), 1u);
  const auto& rs = j["resourceSpans"][0];
  const auto resource = attrs(rs["resource"]["attributes"]);
  EXPECT_EQ(resource.at("service.name"), "inventory");
  EXPECT_EQ(resource.at("telemetry.sdk.name"), "ferry");
  EXPECT_EQ(resource.at("telemetry.sdk.language"), "cpp");
  EXPECT_EQ(resource.at("deployment.environment"), "test");
  const auto& ss = rs["scopeSpans"][0];
  EXPECT_EQ(ss["scope"]["name"], "ferry");
  ASSERT_EQ(ss["spans"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const span want = make_span(static_cast<std::uint64_t>(i + 1), i == 1);
    const auto& s = ss["spans"][i];
    EXPECT_EQ(s["traceId"], want.trace_id.to_hex());
    EXPECT_EQ(s["spanId"], want.span_id.to_hex());
    EXPECT_EQ(s["name"], "process orders.created");
    EXPECT_EQ(s["kind"], "SPAN_KIND_CONSUMER");
    EXPECT_EQ(s["startTimeUnixNano"], "1700000000123456789");
    EXPECT_EQ(s["endTimeUnixNano"], "1700000000124956789");
    const auto a = attrs(s["attributes"]);
    EXPECT_EQ(a.at("messaging.system"), "jetstream");
    EXPECT_EQ(a.at("messaging.operation.type"), "process");
    EXPECT_EQ(a.at("messaging.destination.name"), "orders.created");
    EXPECT_EQ(a.at("messaging.message.id"), want.message_id);
    EXPECT_EQ(a.at("messaging.consumer.group.name"), "inventory");
    EXPECT_EQ(a.at("ferry.handler"), "reserve");
    EXPECT_EQ(a.at("ferry.attempt"), std::to_string(want.attempt));
    EXPECT_EQ(a.at("ferry.outcome"), want.outcome);
    if (i == 0) {
      EXPECT_FALSE(s.contains("parentSpanId")) << "a root span";
      EXPECT_EQ(a.at("ferry.saga.id"), "order-42");
      EXPECT_FALSE(s.contains("status")) << "unset on ack";
    } else {
      EXPECT_EQ(s["parentSpanId"], want.parent_span_id.to_hex());
      EXPECT_EQ(a.count("ferry.saga.id"), 0u);
      EXPECT_EQ(s["status"]["code"], "STATUS_CODE_ERROR");
      EXPECT_EQ(s["status"]["message"], "invalid_argument: not an order");
    }
  }
}

TEST(Otlp, RpcSpansCarryTheirKindAndTheRpcAttributes) {
  receiver rx;
  auto e = otlp_exporter::create(fast(rx.endpoint()));
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  for (int i = 0; i < 2; ++i) {
    span s = make_span(static_cast<std::uint64_t>(i + 1), true);
    s.kind = i == 0 ? span_kind::client : span_kind::server;
    s.name = "shop.payment.v1.Payment/Charge";
    s.system = "grpc";
    s.outcome = i == 0 ? "ok" : "error";
    s.error = i == 0 ? status::ok() : deadline_exceeded("Deadline Exceeded");
    s.rpc_service = "shop.payment.v1.Payment";
    s.rpc_method = "Charge";
    s.rpc_status_code = i == 0 ? 0 : 4;
    s.correlation_id = "order-7";
    (*e)->export_span(std::move(s));
  }
  ASSERT_TRUE((*e)->shutdown(10s).is_ok());
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 1u);
  nlohmann::json j = foreign_decode(reqs[0].body);
  if (j.is_null()) GTEST_SKIP() << "npm @opentelemetry/otlp-transformer is not installed (make deps: npm ci)";
  const auto& spans = j["resourceSpans"][0]["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto& s = spans[i];
    EXPECT_EQ(s["kind"], i == 0 ? "SPAN_KIND_CLIENT" : "SPAN_KIND_SERVER");
    EXPECT_EQ(s["name"], "shop.payment.v1.Payment/Charge");
    const auto a = attrs(s["attributes"]);
    EXPECT_EQ(a.at("rpc.system"), "grpc");
    EXPECT_EQ(a.at("rpc.service"), "shop.payment.v1.Payment");
    EXPECT_EQ(a.at("rpc.method"), "Charge");
    EXPECT_EQ(a.at("rpc.grpc.status_code"), i == 0 ? "0" : "4");
    EXPECT_EQ(a.at("ferry.correlation_id"), "order-7");
    EXPECT_EQ(a.count("messaging.system"), 0u) << "not a messaging span";
    if (i == 0) {
      EXPECT_FALSE(s.contains("status")) << "unset on OK";
    } else {
      EXPECT_EQ(s["status"]["code"], "STATUS_CODE_ERROR");
      EXPECT_EQ(s["status"]["message"], "deadline_exceeded: Deadline Exceeded");
    }
  }
}

TEST(Otlp, A503IsTriedAgainAfterItsRetryAfter) {
  receiver rx({503});
  auto e = otlp_exporter::create(fast(rx.endpoint()));
  ASSERT_TRUE(e.is_ok());
  for (int i = 0; i < 3; ++i) (*e)->export_span(make_span(static_cast<std::uint64_t>(i), false));
  ASSERT_TRUE((*e)->shutdown(10s).is_ok());
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body, reqs[1].body) << "the same batch, sent again";
  EXPECT_GE(reqs[1].at - reqs[0].at, 900ms) << "Retry-After: 1 is honoured over the 100 ms back-off";
  const otlp_stats s = (*e)->stats();
  EXPECT_EQ(s.exported, 3u);
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.retries, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_NE((*e)->prometheus_text().find("ferry_otlp_spans_exported_total 3"), std::string::npos);
}

TEST(Otlp, ANonRetryableErrorDropsTheBatch) {
  receiver rx({400});
  auto e = otlp_exporter::create(fast(rx.endpoint()));
  for (int i = 0; i < 4; ++i) (*e)->export_span(make_span(static_cast<std::uint64_t>(i), false));
  EXPECT_EQ((*e)->shutdown(10s).code(), status_code::unavailable) << "the spans were refused";
  EXPECT_EQ(rx.requests().size(), 1u);
  EXPECT_EQ((*e)->stats().failed, 4u);
  EXPECT_EQ((*e)->stats().exported, 0u);
}

TEST(Otlp, AFullQueueDropsSpansAndNeverBlocks) {
  // Nothing listens there: every request fails and is retried with back-off.
  auto e = otlp_exporter::create({.endpoint = "http://127.0.0.1:" + std::to_string(test::free_port()) + "/v1/traces",
                                  .max_queue = 10,
                                  .max_batch = 5,
                                  .batch_delay = 10ms,
                                  .initial_backoff = 1s});
  ASSERT_TRUE(e.is_ok());
  const auto t0 = clock::now();
  for (int i = 0; i < 1000; ++i) (*e)->export_span(make_span(static_cast<std::uint64_t>(i), false));
  EXPECT_LT(clock::now() - t0, 500ms) << "export_span must not wait for the receiver";
  const otlp_stats s = (*e)->stats();
  EXPECT_GE(s.dropped, 985u);
  const auto before_shutdown = clock::now();
  const status st = (*e)->shutdown(200ms);
  EXPECT_FALSE(st.is_ok()) << "nothing could be sent";
  EXPECT_LT(clock::now() - before_shutdown, 2s) << "no retry waits past the shutdown deadline";
  const otlp_stats after = (*e)->stats();
  EXPECT_EQ(after.dropped + after.failed + after.exported, 1000u) << "every span is accounted for";
  (*e)->export_span(make_span(1, false));
  EXPECT_EQ((*e)->stats().dropped, after.dropped + 1) << "after shutdown spans are dropped";
}

TEST(Otlp, APartialSuccessIsCounted) {
  // ExportTraceServiceResponse{partial_success{rejected_spans: 1, error_message: "too old"}}.
  const std::string inner = std::string("\x08\x01\x12\x07", 4) + "too old";
  receiver rx({}, std::string("\x0a", 1) + static_cast<char>(inner.size()) + inner);
  auto e = otlp_exporter::create(fast(rx.endpoint()));
  (*e)->export_span(make_span(1, false));
  (*e)->export_span(make_span(2, false));
  ASSERT_TRUE((*e)->shutdown(10s).is_ok());
  EXPECT_EQ((*e)->stats().rejected, 1u);
  EXPECT_EQ((*e)->stats().exported, 1u) << "the rejected span was not accepted";
}

TEST(Otlp, ConcurrentShutdownsEndTogether) {
  receiver rx;
  auto e = otlp_exporter::create(fast(rx.endpoint()));
  (*e)->export_span(make_span(1, false));
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) callers.emplace_back([&] { EXPECT_TRUE((*e)->shutdown(10s).is_ok()); });
  for (auto& c : callers) c.join();
  EXPECT_EQ((*e)->stats().exported, 1u);
}

TEST(Otlp, BadOptionsAreRefused) {
  EXPECT_EQ(otlp_exporter::create({.endpoint = "ftp://collector/v1/traces"}).status().code(),
            status_code::invalid_argument);
  EXPECT_EQ(otlp_exporter::create({.endpoint = "http://collector:4318"}).status().code(), status_code::invalid_argument)
      << "the path (/v1/traces) is needed";
  EXPECT_EQ(otlp_exporter::create({.endpoint = "http://collector:99999999999/v1/traces"}).status().code(),
            status_code::invalid_argument);
  EXPECT_EQ(otlp_exporter::create({.endpoint = "http://:4318/v1/traces"}).status().code(),
            status_code::invalid_argument);
  EXPECT_TRUE(otlp_exporter::create({.endpoint = "http://[::1]:4318/v1/traces"}).is_ok());
  EXPECT_EQ(otlp_exporter::create({.service_name = ""}).status().code(), status_code::invalid_argument);
  EXPECT_EQ(otlp_exporter::create({.max_queue = 0}).status().code(), status_code::invalid_argument);
}

}  // namespace
}  // namespace ferry
