#include "ferry/metrics.h"

#include <gtest/gtest.h>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry {
namespace {

using testing::chain_runner;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(MetricsTest, CountsOutcomesAndExposesThemInPrometheusText) {
  metrics_registry reg({0.001, 1});
  std::int64_t in_flight_inside = -1;
  chain_runner c({middleware::metrics(reg)}, [&](message& m) -> outcome {
    in_flight_inside = reg.handler("h").in_flight.load();
    if (m.payload == "retry") return outcome::retry(unavailable("x"));
    if (m.payload == "drop") return outcome::drop(invalid_argument("x"));
    return outcome::ack();
  });
  for (const char* p : {"ok", "ok", "retry", "drop"}) c.run(message("in", p));
  EXPECT_EQ(in_flight_inside, 1);
  const std::string text = reg.prometheus_text();
  EXPECT_TRUE(has_line(text, "# TYPE ferry_handler_received_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_received_total{handler="h"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_acked_total{handler="h"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_retried_total{handler="h"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_dropped_total{handler="h"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE ferry_handler_in_flight gauge")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_in_flight{handler="h"} 0)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE ferry_handler_duration_seconds histogram")) << text;
  // Trivial handlers finish within a millisecond: every call is in the first bucket (cumulative).
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_bucket{handler="h",le="0.001"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_bucket{handler="h",le="1"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_bucket{handler="h",le="+Inf"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_count{handler="h"} 4)")) << text;
  EXPECT_NE(text.find(R"(ferry_handler_duration_seconds_sum{handler="h"} 0.)"), std::string::npos) << text;
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  metrics_registry reg({0.001, 0.01});
  auto& m = reg.handler("h");
  m.record("ack", std::chrono::microseconds(500));
  m.record("ack", std::chrono::milliseconds(5));
  m.record("ack", std::chrono::milliseconds(50));
  const std::string text = reg.prometheus_text();
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_bucket{handler="h",le="0.001"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_bucket{handler="h",le="0.01"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_bucket{handler="h",le="+Inf"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(ferry_handler_duration_seconds_sum{handler="h"} 0.0555)")) << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  metrics_registry reg;
  reg.handler("a\"b\\c\nd").received++;
  EXPECT_TRUE(has_line(reg.prometheus_text(), R"(ferry_handler_received_total{handler="a\"b\\c\nd"} 1)"));
}

TEST(MetricsTest, ExceptionCountsAsRetryAndLeavesTheGauge) {
  metrics_registry reg;
  handler_info info;
  info.name = "h";
  auto h = middleware::metrics(reg).wrap([](message&) -> outcome { throw std::runtime_error("x"); }, info);
  message m("in", "");
  EXPECT_THROW(h(m), std::runtime_error);
  EXPECT_EQ(reg.handler("h").retried.load(), 1u);
  EXPECT_EQ(reg.handler("h").in_flight.load(), 0);
}

}  // namespace
}  // namespace ferry
