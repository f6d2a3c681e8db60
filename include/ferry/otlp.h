// otlp: ships the tracer's spans to an OpenTelemetry collector (or any OTLP receiver: Jaeger,
// Tempo...) over OTLP/HTTP with the binary protobuf encoding.
//
//   auto otlp = ferry::otlp_exporter::create({.endpoint = "http://collector:4318/v1/traces",
//                                             .service_name = "inventory"});
//   ferry::tracer tracer(otlp.value());
//   r.use(ferry::middleware::tracing(tracer));
//   ...
//   otlp.value()->shutdown(std::chrono::seconds(5));   // sends what is still queued
//
// export_span() never blocks a handler: spans go to a bounded queue (max_queue); when it is full
// the span is dropped and counted. A thread sends batches (max_batch spans, or whatever is queued
// every batch_delay). A request answered 429, 502, 503 or 504, or not answered at all, is tried
// again after a back-off (doubling from initial_backoff to max_backoff, or the Retry-After the
// receiver gave), up to max_attempts; any other error drops the batch (counted as failed).
//
// Each span carries the resource (service.name, telemetry.sdk.*, resource_attributes), the scope
// "ferry", kind CONSUMER, and the OpenTelemetry messaging attributes: messaging.system,
// messaging.operation.type ("process"), messaging.destination.name, messaging.message.id,
// messaging.consumer.group.name, plus ferry.handler, ferry.attempt, ferry.outcome and
// ferry.saga.id. Status: unset on ack, error (with the reason) otherwise. The spans of gRPC calls
// (ferry::grpc's interceptors) are kind CLIENT or SERVER with OpenTelemetry's RPC attributes:
// rpc.system ("grpc"), rpc.service, rpc.method, rpc.grpc.status_code, and ferry.correlation_id;
// status error when the call's status is not OK.
//
// Link ferry::otlp.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ferry/result.h"
#include "ferry/status.h"
#include "ferry/tracing.h"

namespace ferry {

struct otlp_options {
  // The traces endpoint of an OTLP/HTTP receiver: http(s)://host:port/v1/traces.
  std::string endpoint = "http://127.0.0.1:4318/v1/traces";
  std::string service_name = "unknown_service";
  std::vector<std::pair<std::string, std::string>> resource_attributes;  // e.g. service.version
  std::map<std::string, std::string> headers;                            // e.g. authorization
  std::size_t max_queue = 2048;                                          // spans waiting at most; more are dropped
  std::size_t max_batch = 512;                                           // spans per request at most
  std::chrono::milliseconds batch_delay{1'000};                          // what is queued leaves at least this often
  std::chrono::milliseconds timeout{10'000};                             // per request
  int max_attempts = 5;                                                  // per batch, the first included
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
};

struct otlp_stats {
  std::uint64_t exported = 0;  // spans the receiver accepted
  std::uint64_t dropped = 0;   // spans dropped because the queue was full
  std::uint64_t failed = 0;    // spans of batches given up (errors, attempts spent, shutdown)
  std::uint64_t rejected = 0;  // spans the receiver reported as rejected (partial success)
  std::uint64_t requests = 0;  // HTTP requests sent
  std::uint64_t retries = 0;   // of them, tries again
};

class otlp_exporter : public span_exporter {
 public:
  // invalid_argument for an endpoint that is not http(s)://host[:port]/path.
  static result<std::shared_ptr<otlp_exporter>> create(otlp_options options);
  ~otlp_exporter() override;
  otlp_exporter(const otlp_exporter&) = delete;
  otlp_exporter& operator=(const otlp_exporter&) = delete;

  void export_span(span s) override;
  // Sends what is queued (waiting up to `timeout`), then stops; later spans are dropped.
  // deadline_exceeded when spans were still unsent at the deadline, unavailable when the receiver
  // refused them or could not be reached (no retry waits past the deadline). Idempotent.
  status shutdown(std::chrono::milliseconds timeout);
  [[nodiscard]] otlp_stats stats() const;
  // ferry_otlp_spans_exported_total, _dropped_total, _failed_total, ferry_otlp_requests_total,
  // ferry_otlp_retries_total, ferry_otlp_queue (spans waiting).
  [[nodiscard]] std::string prometheus_text() const;

 private:
  struct impl;
  explicit otlp_exporter(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

// The ExportTraceServiceRequest for `spans`, as protobuf bytes (what the exporter POSTs).
std::string encode_otlp_traces(const std::vector<span>& spans, const otlp_options& options);

}  // namespace ferry
