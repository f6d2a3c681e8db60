#include "base/prometheus.h"

#include <gtest/gtest.h>

#include <limits>

namespace ferry {
namespace {

TEST(Prometheus, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(prometheus_label_value("plain"), "plain");
  EXPECT_EQ(prometheus_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  prometheus_writer w;
  w.family("x_total", "counter", "Two\nlines \\ here.");
  w.sample("x_total", {{"name", "multi\nline \"quoted\""}, {"k", "v"}}, 3);
  w.sample("x_total", {}, 4);
  EXPECT_EQ(w.take(),
            "# HELP x_total Two\\nlines \\\\ here.\n# TYPE x_total counter\n"
            "x_total{name=\"multi\\nline \\\"quoted\\\"\",k=\"v\"} 3\nx_total 4\n");
}

TEST(Prometheus, Numbers) {
  EXPECT_EQ(prometheus_number(0), "0");
  EXPECT_EQ(prometheus_number(42), "42");
  EXPECT_EQ(prometheus_number(-7), "-7");
  EXPECT_EQ(prometheus_number(0.005), "0.005");
  EXPECT_EQ(prometheus_number(0.0555), "0.0555");
  EXPECT_EQ(prometheus_number(1e20), "100000000000000000000");
  EXPECT_EQ(prometheus_number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(prometheus_number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(prometheus_number(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

}  // namespace
}  // namespace ferry
