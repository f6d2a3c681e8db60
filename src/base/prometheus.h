// prometheus: the text exposition format (0.0.4) written in one place, for ferryd's /metrics and
// the SDK's metrics registry: each family's HELP and TYPE once, label values escaped (\\, \" and
// newline), HELP text escaped (\\ and newline), numbers as Prometheus reads them (integers
// without a fraction, +Inf, -Inf, NaN).
//
//   prometheus_writer w;
//   w.family("ferryd_connections", "gauge", "Client connections open now.");
//   w.sample("ferryd_connections", {}, 12);
//   w.sample("ferryd_stream_messages", {{"stream", "ORDERS"}}, 42);
//   std::string text = w.take();
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace ferry {

using prometheus_labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// `v` escaped for use between the quotes of a label value.
std::string prometheus_label_value(std::string_view v);
// `v` as a sample value: "42", "0.005", "+Inf", "NaN".
std::string prometheus_number(double v);

class prometheus_writer {
 public:
  // "# HELP <name> <help>\n# TYPE <name> <type>\n".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // "<name>{k="v",...} <value>\n" (no braces without labels).
  void sample(std::string_view name, prometheus_labels labels, double value);
  [[nodiscard]] const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace ferry
