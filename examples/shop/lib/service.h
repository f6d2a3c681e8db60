// service: what the main of every shop service shares: its flags, logging, stop signals, the
// connection to ferryd, tracing and metrics, the HTTP server (/metrics, /stats, /healthz) and
// the standard middleware chain.
//
//   int main(int argc, char** argv) {
//     shop::service_options o{.name = "payment"};
//     CLI::App app("payment-service: ...");
//     shop::add_common_flags(app, o);
//     CLI11_PARSE(app, argc, argv);
//     auto svc = shop::service::create(o);             // logs why and fails if ferryd is not there
//     ferry::router r(*svc.value()->bus().core);
//     svc.value()->use_standard_middleware(r);
//     r.add_handler({...}, handle);
//     return svc.value()->run(r, [&] { return stats_json(); });   // until SIGINT/SIGTERM
//   }
//
// Threads: create() blocks SIGINT and SIGTERM in the calling thread before it starts any other,
// so every thread inherits the mask and run() receives them with sigwait().
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bus.h"
#include "ferry/handler.h"
#include "ferry/metrics.h"
#include "ferry/otlp.h"
#include "ferry/result.h"
#include "ferry/router.h"
#include "ferry/tracing.h"
#include "http_server.h"

namespace shop {

struct service_options {
  std::string name;  // "order", "inventory"...: logs, client name, dead-letter subject
  std::string server = "nats://127.0.0.1:4222";
  std::string data = ".";  // directory of the service's SQLite files
  std::string http_host = "127.0.0.1";
  int http_port = 0;  // 0: no HTTP server (order-service requires one)
  std::string log_level = "info";
  // OTLP/HTTP traces endpoint of an OpenTelemetry collector (http://host:4318/v1/traces): the
  // handlers' spans are sent there too (ferry/otlp.h). Empty: spans are only logged at debug.
  std::string otlp;
};

// Adds --server (default $FERRY_SERVER, else nats://127.0.0.1:4222), --data, --http,
// --http-host, --log-level and --otlp.
void add_common_flags(CLI::App& app, service_options& o);

class service {
 public:
  // Sets up logging, blocks the stop signals, creates the data directory and connects to ferryd.
  static ferry::result<std::unique_ptr<service>> create(const service_options& o);
  ~service();

  [[nodiscard]] const service_options& options() const { return options_; }
  shop::bus& bus() { return bus_; }
  ferry::tracer& tracer() { return tracer_; }
  ferry::metrics_registry& metrics() { return metrics_; }
  http_server& http() { return http_; }
  // <data>/<file>.
  [[nodiscard]] std::string data_path(const std::string& file) const;
  // The subject this service dead-letters to: dlq.<name>.
  [[nodiscard]] std::string dead_letter_subject() const;

  // Router-level middleware, outermost first: correlation id, tracing, metrics, dead letters to
  // dead_letter_subject() on the JetStream transport.
  void use_standard_middleware(ferry::router& r);
  // Handler-level middleware, innermost part of the chain: `before` (e.g. dedup), then retry
  // with backoff (8 attempts, 100 ms doubling up to 1 s) and the recoverer.
  [[nodiscard]] std::vector<ferry::handler_middleware> handler_middleware(
      std::vector<ferry::handler_middleware> before = {}) const;

  // More families for GET /metrics (an outbox relay's, an orchestrator's). Before run().
  void add_metrics(std::function<std::string()> more) { more_metrics_.push_back(std::move(more)); }
  // Runs `f` when the service stops, after the router and before the bus closes.
  void at_stop(std::function<void()> f) { at_stop_.push_back(std::move(f)); }

  // Starts the router and the HTTP server (when --http was given: /healthz, /metrics and /stats
  // from `stats`), waits for SIGINT or SIGTERM, then stops both gracefully. Returns main's exit
  // code.
  int run(ferry::router& r, std::function<nlohmann::json()> stats);

 private:
  explicit service(service_options o) : options_(std::move(o)) {}
  service_options options_;
  shop::bus bus_;
  ferry::tracer tracer_;
  ferry::metrics_registry metrics_;
  http_server http_;
  std::vector<std::function<std::string()>> more_metrics_;
  std::vector<std::function<void()>> at_stop_;
  std::shared_ptr<ferry::otlp_exporter> otlp_;
};

// The trace id of the handler span running on this thread ("-" outside one), for log lines.
std::string current_trace_id();

}  // namespace shop
