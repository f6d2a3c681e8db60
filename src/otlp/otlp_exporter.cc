#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <regex>
#include <thread>

#include "base/prometheus.h"
#include "ferry/otlp.h"
#include "ferry_otlp_trace_service.pb.h"

namespace ferry {

namespace {

using std::chrono::milliseconds;
namespace pb_common = ferry::otlp::v1;
namespace pb_trace = ferry::otlp::v1;
namespace pb_collector = ferry::otlp::v1;

constexpr const char* kVersion = "0.1.0";

// A span as queued: owned strings (a span's string_views point into what its handler saw).
struct queued_span {
  span s;
  std::string outcome, system;
};

std::string id_bytes(std::uint64_t v, std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[n - 1 - i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::uint64_t unix_nanos(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

void add(google::protobuf::RepeatedPtrField<pb_common::KeyValue>* to, std::string key, std::string value) {
  auto* kv = to->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_string_value(std::move(value));
}

void add(google::protobuf::RepeatedPtrField<pb_common::KeyValue>* to, std::string key, std::int64_t value) {
  auto* kv = to->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_int_value(value);
}

void encode_span(const span& s, std::string_view outcome, std::string_view system, pb_trace::Span* out) {
  out->set_trace_id(id_bytes(s.trace_id.high, 8) + id_bytes(s.trace_id.low, 8));
  out->set_span_id(id_bytes(s.span_id.value, 8));
  if (s.parent_span_id.valid()) out->set_parent_span_id(id_bytes(s.parent_span_id.value, 8));
  out->set_name(s.name);
  out->set_start_time_unix_nano(unix_nanos(s.start));
  out->set_end_time_unix_nano(unix_nanos(s.end));
  auto* a = out->mutable_attributes();
  if (s.kind != span_kind::consumer) {
    // An RPC: OpenTelemetry's RPC conventions; an error is any status but OK.
    out->set_kind(s.kind == span_kind::client ? pb_trace::Span::SPAN_KIND_CLIENT : pb_trace::Span::SPAN_KIND_SERVER);
    add(a, "rpc.system", std::string(system.empty() ? "grpc" : system));
    if (!s.rpc_service.empty()) add(a, "rpc.service", s.rpc_service);
    if (!s.rpc_method.empty()) add(a, "rpc.method", s.rpc_method);
    add(a, "rpc.grpc.status_code", static_cast<std::int64_t>(s.rpc_status_code));
    if (!s.correlation_id.empty()) add(a, "ferry.correlation_id", s.correlation_id);
    if (s.rpc_status_code != 0) {
      out->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_ERROR);
      out->mutable_status()->set_message(s.error.is_ok() ? std::string(outcome) : s.error.to_string());
    }
    return;
  }
  out->set_kind(pb_trace::Span::SPAN_KIND_CONSUMER);
  if (!system.empty()) add(a, "messaging.system", std::string(system));
  add(a, "messaging.operation.type", "process");
  if (!s.destination.empty()) add(a, "messaging.destination.name", s.destination);
  if (!s.message_id.empty()) add(a, "messaging.message.id", s.message_id);
  if (!s.consumer_group.empty()) add(a, "messaging.consumer.group.name", s.consumer_group);
  if (!s.handler.empty()) add(a, "ferry.handler", s.handler);
  add(a, "ferry.attempt", static_cast<std::int64_t>(s.attempt));
  if (!outcome.empty()) add(a, "ferry.outcome", std::string(outcome));
  if (!s.saga_id.empty()) add(a, "ferry.saga.id", s.saga_id);
  if (!s.correlation_id.empty()) add(a, "ferry.correlation_id", s.correlation_id);
  if (outcome != "ack" && !outcome.empty()) {
    out->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_ERROR);
    out->mutable_status()->set_message(s.error.is_ok() ? std::string(outcome) : s.error.to_string());
  }
}

std::string encode(const std::vector<queued_span>& spans, const otlp_options& o) {
  pb_collector::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* attrs = rs->mutable_resource()->mutable_attributes();
  add(attrs, "service.name", o.service_name);
  add(attrs, "telemetry.sdk.name", "ferry");
  add(attrs, "telemetry.sdk.language", "cpp");
  add(attrs, "telemetry.sdk.version", kVersion);
  for (const auto& [k, v] : o.resource_attributes) add(attrs, k, v);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("ferry");
  ss->mutable_scope()->set_version(kVersion);
  for (const auto& q : spans) encode_span(q.s, q.outcome, q.system, ss->add_spans());
  return req.SerializeAsString();
}

queued_span own(span s) {
  queued_span q;
  q.outcome = std::string(s.outcome);
  q.system = std::string(s.system);
  s.outcome = {};
  s.system = {};
  q.s = std::move(s);
  return q;
}

// The Retry-After of a response in seconds (the HTTP-date form is not used by OTLP receivers).
std::optional<milliseconds> retry_after(const httplib::Result& r) {
  if (!r || !r->has_header("Retry-After")) return std::nullopt;
  try {
    const long s = std::stol(r->get_header_value("Retry-After"));
    if (s >= 0 && s <= 3600) return milliseconds(s * 1000);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

std::string encode_otlp_traces(const std::vector<span>& spans, const otlp_options& options) {
  std::vector<queued_span> q;
  q.reserve(spans.size());
  for (const span& s : spans) q.push_back(own(s));
  return encode(q, options);
}

struct otlp_exporter::impl {
  explicit impl(otlp_options o, std::string base, std::string path)
      : options(std::move(o)), base_url(std::move(base)), path(std::move(path)) {}

  // Sends one batch, with the retries it is allowed. Returns whether it was accepted. Called on
  // the exporter's thread, without the lock.
  bool send(const std::vector<queued_span>& batch, std::chrono::steady_clock::time_point give_up) {
    const std::string body = encode(batch, options);
    httplib::Client http(base_url);
    // A request never runs past the shutdown deadline (when there is one).
    milliseconds limit = options.timeout;
    if (give_up != std::chrono::steady_clock::time_point::max()) {
      limit = std::clamp(std::chrono::duration_cast<milliseconds>(give_up - std::chrono::steady_clock::now()),
                         milliseconds(1), options.timeout);
    }
    http.set_connection_timeout(limit);
    http.set_read_timeout(limit);
    http.set_write_timeout(limit);
    httplib::Headers headers;
    for (const auto& [k, v] : options.headers) headers.emplace(k, v);
    milliseconds backoff = options.initial_backoff;
    for (int attempt = 1;; ++attempt) {
      count(&otlp_stats::requests, 1);
      if (attempt > 1) count(&otlp_stats::retries, 1);
      auto r = http.Post(path, headers, body, "application/x-protobuf");
      if (r && r->status >= 200 && r->status < 300) {
        pb_collector::ExportTraceServiceResponse resp;
        std::uint64_t rejected = 0;
        if (!r->body.empty() && resp.ParseFromString(r->body) && resp.has_partial_success()) {
          const std::int64_t n = resp.partial_success().rejected_spans();
          rejected =
              static_cast<std::uint64_t>(std::clamp<std::int64_t>(n, 0, static_cast<std::int64_t>(batch.size())));
          if (rejected > 0) {
            spdlog::warn("otlp: {} rejected {} of {} spans: {}", base_url + path, rejected, batch.size(),
                         resp.partial_success().error_message());
          }
        }
        count(&otlp_stats::rejected, rejected);
        count(&otlp_stats::exported, batch.size() - rejected);
        return true;
      }
      const bool retryable = !r || r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504;
      const std::string what = r ? "HTTP " + std::to_string(r->status) : httplib::to_string(r.error());
      if (!retryable || attempt >= options.max_attempts) {
        spdlog::warn("otlp: sending {} spans to {} failed ({}{}); dropped", batch.size(), base_url + path, what,
                     retryable ? ", attempts spent" : "");
        count(&otlp_stats::failed, batch.size());
        return false;
      }
      const milliseconds wait = retry_after(r).value_or(backoff);
      backoff = std::min(backoff * 2, options.max_backoff);
      std::unique_lock lock(mu);
      if (std::chrono::steady_clock::now() + wait > give_up || cv.wait_for(lock, wait, [&] { return abandon; })) {
        lock.unlock();
        spdlog::warn("otlp: {} spans to {} not sent before the deadline ({})", batch.size(), base_url + path, what);
        count(&otlp_stats::failed, batch.size());
        return false;
      }
    }
  }

  void count(std::uint64_t otlp_stats::*field, std::uint64_t n) {
    std::lock_guard lock(mu);
    stats.*field += n;
  }

  void run() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait_for(lock, options.batch_delay, [&] { return stopping || queue.size() >= options.max_batch; });
      if (queue.empty()) {
        if (stopping) return;
        continue;
      }
      std::vector<queued_span> batch;
      const std::size_t n = std::min(queue.size(), options.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      in_flight = true;
      const auto give_up = stopping ? flush_deadline : std::chrono::steady_clock::time_point::max();
      lock.unlock();
      try {
        send(batch, give_up);
      } catch (const std::exception& e) {  // an exception must not end the process from this thread
        spdlog::error("otlp: sending {} spans failed: {}; dropped", batch.size(), e.what());
        count(&otlp_stats::failed, batch.size());
      }
      lock.lock();
      in_flight = false;
      idle_cv.notify_all();
    }
  }

  const otlp_options options;
  const std::string base_url, path;
  mutable std::mutex mu;  // guards everything below
  std::condition_variable cv, idle_cv;
  std::deque<queued_span> queue;
  otlp_stats stats;
  bool stopping = false, abandon = false, in_flight = false;
  bool shutting_down = false, shut_down = false;  // shutdown() began / ended
  std::chrono::steady_clock::time_point flush_deadline = std::chrono::steady_clock::time_point::max();
  std::thread thread;
};

otlp_exporter::otlp_exporter(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

otlp_exporter::~otlp_exporter() { (void)shutdown(milliseconds(0)); }

result<std::shared_ptr<otlp_exporter>> otlp_exporter::create(otlp_options options) {
  // Hosts as cpp-httplib reads them: a name or IPv4 address, or an IPv6 address in brackets.
  static const std::regex url(R"(^(https?://(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?)(/[^\s]*)$)");
  std::smatch m;
  const auto bad = [&] {
    return invalid_argument("otlp: endpoint \"" + options.endpoint +
                            "\": expected http(s)://host[:port]/path, e.g. http://127.0.0.1:4318/v1/traces");
  };
  if (!std::regex_match(options.endpoint, m, url)) return bad();
  if (m[2].matched && (std::stoi(m[2].str()) < 1 || std::stoi(m[2].str()) > 65535)) return bad();
  if (options.max_queue == 0 || options.max_batch == 0 || options.max_attempts < 1) {
    return invalid_argument("otlp: max_queue, max_batch and max_attempts must be at least 1");
  }
  if (options.service_name.empty()) return invalid_argument("otlp: service_name is empty");
  auto i = std::make_unique<impl>(options, m[1].str(), m[3].str());
  impl* raw = i.get();
  std::shared_ptr<otlp_exporter> e(new otlp_exporter(std::move(i)));
  raw->thread = std::thread([raw] { raw->run(); });
  return e;
}

void otlp_exporter::export_span(span s) {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping || impl_->queue.size() >= impl_->options.max_queue) {
    ++impl_->stats.dropped;
    return;
  }
  impl_->queue.push_back(own(std::move(s)));
  if (impl_->queue.size() >= impl_->options.max_batch) impl_->cv.notify_one();
}

status otlp_exporter::shutdown(milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (impl_->shutting_down) {
    // Another caller is shutting down (or did): wait for it, then report nothing more.
    impl_->idle_cv.wait(lock, [&] { return impl_->shut_down; });
    return status::ok();
  }
  impl_->shutting_down = true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::uint64_t failed_before = impl_->stats.failed;
  impl_->stopping = true;
  impl_->flush_deadline = deadline;
  impl_->cv.notify_all();
  // The thread sends what is queued (retries included) until the deadline, then gives up.
  const bool flushed =
      impl_->idle_cv.wait_until(lock, deadline, [&] { return impl_->queue.empty() && !impl_->in_flight; });
  impl_->abandon = true;
  const std::size_t left = impl_->queue.size();
  impl_->stats.failed += left;
  impl_->queue.clear();
  impl_->cv.notify_all();
  lock.unlock();
  impl_->thread.join();
  std::uint64_t lost = 0;
  {
    std::lock_guard relock(impl_->mu);
    lost = impl_->stats.failed - failed_before;
    impl_->shut_down = true;
  }
  impl_->idle_cv.notify_all();
  if (!flushed || left > 0) {
    return deadline_exceeded("otlp: " + std::to_string(lost) + " spans not sent within " +
                             std::to_string(timeout.count()) + " ms of shutdown");
  }
  if (lost > 0) {
    return unavailable("otlp: " + std::to_string(lost) + " spans could not be sent at shutdown (see the log)");
  }
  return status::ok();
}

otlp_stats otlp_exporter::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::string otlp_exporter::prometheus_text() const {
  otlp_stats s;
  std::size_t queued = 0;
  {
    std::lock_guard lock(impl_->mu);
    s = impl_->stats;
    queued = impl_->queue.size();
  }
  prometheus_writer w;
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
    w.family(name, "counter", help);
    w.sample(name, {}, static_cast<double>(v));
  };
  counter("ferry_otlp_spans_exported_total", "Spans the OTLP receiver accepted.", s.exported);
  counter("ferry_otlp_spans_dropped_total", "Spans dropped because the export queue was full.", s.dropped);
  counter("ferry_otlp_spans_failed_total", "Spans of batches given up (errors, attempts spent, shutdown).", s.failed);
  counter("ferry_otlp_requests_total", "OTLP export requests sent.", s.requests);
  counter("ferry_otlp_retries_total", "OTLP export requests sent again after a retryable answer.", s.retries);
  w.family("ferry_otlp_queue", "gauge", "Spans waiting to be exported.");
  w.sample("ferry_otlp_queue", {}, static_cast<double>(queued));
  return w.take();
}

}  // namespace ferry
