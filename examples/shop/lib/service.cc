#include "service.h"

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "events.h"
#include "ferry/middleware.h"

namespace shop {

namespace {

// Logs every finished span at debug level: the trace of an order across the services can be
// followed by its trace id with --log-level debug.
class log_exporter : public ferry::span_exporter {
 public:
  void export_span(ferry::span s) override {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(s.end - s.start).count();
    spdlog::debug("span trace={} span={} parent={} name='{}' handler={} outcome={} attempt={} {}us",
                  s.trace_id.to_hex(), s.span_id.to_hex(), s.parent_span_id.valid() ? s.parent_span_id.to_hex() : "-",
                  s.name, s.handler, s.outcome, s.attempt, us);
  }
};

// Hands each span to several exporters (the log, and a collector when --otlp is given).
class tee_exporter : public ferry::span_exporter {
 public:
  explicit tee_exporter(std::vector<std::shared_ptr<ferry::span_exporter>> to) : to_(std::move(to)) {}
  void export_span(ferry::span s) override {
    for (std::size_t i = 0; i + 1 < to_.size(); ++i) to_[i]->export_span(s);
    to_.back()->export_span(std::move(s));
  }

 private:
  std::vector<std::shared_ptr<ferry::span_exporter>> to_;
};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void add_common_flags(CLI::App& app, service_options& o) {
  if (const char* env = std::getenv("FERRY_SERVER"); env != nullptr && *env != '\0') o.server = env;
  app.add_option("-s,--server", o.server, "ferryd (or NATS) URL; default $FERRY_SERVER")->capture_default_str();
  app.add_option("--data", o.data, "Directory for the service's SQLite files")->capture_default_str();
  app.add_option("--http", o.http_port, "HTTP port for /metrics, /stats, /healthz (0: none)")->capture_default_str();
  app.add_option("--http-host", o.http_host, "Address the HTTP server binds")->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--otlp", o.otlp,
                 "Also send the handlers' spans to this OpenTelemetry collector (OTLP/HTTP), e.g. "
                 "http://127.0.0.1:4318/v1/traces");
}

ferry::result<std::unique_ptr<service>> service::create(const service_options& o) {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: they all inherit it

  auto logger = spdlog::stderr_color_mt("shop-" + o.name);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%n] %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(o.log_level));
  spdlog::set_default_logger(logger);

  std::unique_ptr<service> s(new service(o));
  std::vector<std::shared_ptr<ferry::span_exporter>> exporters{std::make_shared<log_exporter>()};
  if (!o.otlp.empty()) {
    FERRY_ASSIGN_OR_RETURN(s->otlp_,
                           ferry::otlp_exporter::create({.endpoint = o.otlp, .service_name = "shop-" + o.name}));
    exporters.push_back(s->otlp_);
    s->add_metrics([otlp = s->otlp_] { return otlp->prometheus_text(); });
    spdlog::info("spans also go to the OpenTelemetry collector at {}", o.otlp);
  }
  s->tracer_ = ferry::tracer(std::make_shared<tee_exporter>(std::move(exporters)));
  std::error_code ec;
  std::filesystem::create_directories(o.data, ec);
  if (ec) return ferry::io_error("creating data directory " + o.data + ": " + ec.message());
  FERRY_ASSIGN_OR_RETURN(s->bus_, connect_bus({.url = o.server, .name = "shop-" + o.name}));
  spdlog::info("connected to {} (data in {})", o.server, o.data);
  return s;
}

service::~service() { http_.stop(); }

std::string service::data_path(const std::string& file) const {
  return (std::filesystem::path(options_.data) / file).string();
}

std::string service::dead_letter_subject() const { return std::string(subject::dlq_prefix) + options_.name; }

void service::use_standard_middleware(ferry::router& r) {
  r.use(ferry::middleware::correlation_id());
  r.use(ferry::middleware::tracing(tracer_));
  r.use(ferry::middleware::metrics(metrics_));
  r.use(ferry::middleware::dead_letter(*bus_.streams, dead_letter_subject()));
}

std::vector<ferry::handler_middleware> service::handler_middleware(
    std::vector<ferry::handler_middleware> before) const {
  std::vector<ferry::handler_middleware> chain = std::move(before);
  chain.push_back(ferry::middleware::retry({
      .max_attempts = 8,
      .initial_interval = std::chrono::milliseconds(100),
      .max_interval = std::chrono::seconds(1),
      .on_retry =
          [](const ferry::message& m, const ferry::status& why, std::uint64_t attempt, std::chrono::milliseconds d) {
            spdlog::warn("{} attempt {} failed: {}; retrying in {} ms", m.subject, attempt, why.to_string(), d.count());
          },
  }));
  chain.push_back(ferry::middleware::recoverer());
  return chain;
}

int service::run(ferry::router& r, std::function<nlohmann::json()> stats) {
  if (ferry::status st = r.start(); !st.is_ok()) {
    spdlog::error("starting the router: {}", st.to_string());
    return 1;
  }
  if (options_.http_port != 0) {
    http_.serve_observability(metrics_, std::move(stats), [this] {
      std::string out;
      for (const auto& f : more_metrics_) out += f();
      return out;
    });
    auto port = http_.start(options_.http_host, options_.http_port);
    if (!port.is_ok()) {
      spdlog::error("{}", port.status().to_string());
      r.stop(std::chrono::seconds(5));
      return 1;
    }
    spdlog::info("HTTP on http://{}:{} (/metrics, /stats, /healthz)", options_.http_host, *port);
  }
  spdlog::info("running; SIGINT or SIGTERM stops it");
  const sigset_t set = stop_signals();
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("{}: stopping (finishing the messages in flight)", sig == SIGINT ? "SIGINT" : "SIGTERM");
  http_.stop();
  r.stop(std::chrono::seconds(10));
  for (auto& f : at_stop_) f();  // e.g. an outbox relay, while the bus still serves it
  if (otlp_) {
    if (ferry::status st = otlp_->shutdown(std::chrono::seconds(3)); !st.is_ok()) spdlog::warn("{}", st.to_string());
  }
  bus_.streams->close();
  bus_.core->close();
  spdlog::info("stopped");
  return 0;
}

std::string current_trace_id() {
  const std::string tp = ferry::current_traceparent();
  auto c = ferry::parse_traceparent(tp);
  return c ? c->trace_id.to_hex() : "-";
}

}  // namespace shop
