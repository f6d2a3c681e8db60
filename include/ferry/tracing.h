// tracing: W3C Trace Context spans for handlers, with a pluggable exporter.
//
//   auto spans = std::make_shared<ferry::memory_exporter>();
//   ferry::tracer tracer(spans);                   // or an exporter that ships spans to a collector
//   r.use(ferry::middleware::tracing(tracer));
//
// The tracing middleware reads `traceparent` (and `tracestate`) from the incoming message and
// always starts a span for the handler call: a child of the incoming span, or a root span with a
// new trace id when the message carried none (or a malformed one). Every output message gets a
// `traceparent` naming the same trace and the handler's span as parent (and the incoming
// `tracestate`), so the next service's span links up. While the handler runs,
// current_traceparent() returns its span, for messages it publishes itself.
//
// Thread safety: tracer and memory_exporter are thread-safe; a span is plain data.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/status.h"

namespace ferry {

// A 128-bit trace id; all zeros is invalid (none).
struct trace_id {
  std::uint64_t high = 0, low = 0;
  [[nodiscard]] bool valid() const { return high != 0 || low != 0; }
  [[nodiscard]] std::string to_hex() const;  // 32 lower-case hex digits
  friend bool operator==(const trace_id&, const trace_id&) = default;
};

// A 64-bit span id; zero is invalid (none).
struct span_id {
  std::uint64_t value = 0;
  [[nodiscard]] bool valid() const { return value != 0; }
  [[nodiscard]] std::string to_hex() const;  // 16 lower-case hex digits
  friend bool operator==(const span_id&, const span_id&) = default;
};

// What crosses the wire in `traceparent` (and `tracestate`).
struct span_context {
  ferry::trace_id trace_id;
  ferry::span_id span_id;
  std::uint8_t flags = 1;  // bit 0: sampled
  std::string tracestate;
};

// Parses a `traceparent` value ("00-<32 hex>-<16 hex>-<2 hex>"; later versions may append
// fields). nullopt when malformed, or when an id is all zeros.
std::optional<span_context> parse_traceparent(std::string_view value);
// "00-<trace id>-<span id>-<flags>".
std::string format_traceparent(const span_context& c);

// What a span stands for (OpenTelemetry's SpanKind).
enum class span_kind : std::uint8_t {
  consumer,  // a handler processing a message (the tracing middleware)
  client,    // an outgoing RPC (ferry::grpc's client interceptor)
  server,    // an incoming RPC (ferry::grpc's server interceptor)
};

// One handler call, or one side of an RPC.
struct span {
  ferry::trace_id trace_id;
  ferry::span_id span_id;
  ferry::span_id parent_span_id;  // invalid for a root span
  std::string name;               // "process <subject>" (OpenTelemetry messaging convention)
  std::chrono::system_clock::time_point start, end;
  std::string_view outcome;  // "ack", "retry", "drop", or "exception"
  status error;              // why it was not acked
  // OpenTelemetry messaging attributes:
  std::string_view system;     // messaging.system: the transport ("nats", "inproc"...)
  std::string destination;     // messaging.destination.name: the message's subject
  std::string message_id;      // messaging.message.id
  std::string consumer_group;  // messaging.consumer.group.name
  std::string handler;         // ferry.handler
  std::uint64_t attempt = 1;   // ferry.attempt: delivery count plus in-process retries
  std::string saga_id;         // ferry.saga.id: the Ferry-Saga-Id header, when the message has one
  span_kind kind = span_kind::consumer;
  // RPC spans (client and server; system is "grpc", outcome "ok" or "error"): rpc.service
  // ("shop.payment.v1.Payment"), rpc.method ("Charge"), rpc.grpc.status_code (0 is OK).
  std::string rpc_service, rpc_method;
  int rpc_status_code = 0;
  std::string correlation_id;  // ferry.correlation_id, when the call carried one

  [[nodiscard]] bool is_root() const { return !parent_span_id.valid(); }
};

// Receives finished spans. Called on the handlers' threads, several at once: thread-safe, and
// quick (queue or batch the real export).
class span_exporter {
 public:
  virtual ~span_exporter() = default;
  virtual void export_span(span s) = 0;
};

// Keeps every span in memory, for tests.
class memory_exporter : public span_exporter {
 public:
  void export_span(span s) override;
  [[nodiscard]] std::vector<span> spans() const;
  void clear();

 private:
  mutable std::mutex mu_;  // guards spans_
  std::vector<span> spans_;
};

class tracer {
 public:
  // `exporter` null: spans are made (and propagated) but not exported.
  explicit tracer(std::shared_ptr<span_exporter> exporter = nullptr);

  // A started span: a child of `parent` when it is given and valid, else a root with a new trace.
  [[nodiscard]] span start(std::string name, const span_context* parent) const;
  // Stamps the end time and exports the span.
  void finish(span s) const;

 private:
  std::shared_ptr<span_exporter> exporter_;
};

// The traceparent of the span the tracing middleware (or an RPC interceptor) runs on this
// thread; empty outside one.
std::string current_traceparent();
// That span's context; null outside one.
const span_context* current_span_context();

// Makes `c` the current span of this thread and returns the one it replaces: for code whose span
// does not follow a scope (an RPC interceptor sets it on one hook and restores it on a later one).
// Prefer current_span_scope.
const span_context* exchange_current_span(const span_context* c);

// Makes `c` the current span of this thread (what current_traceparent() returns) until the scope
// ends; scopes nest. For code that runs work outside a router handler, such as an RPC server
// interceptor. `c` must outlive the scope.
class current_span_scope {
 public:
  explicit current_span_scope(const span_context* c);
  ~current_span_scope();
  current_span_scope(const current_span_scope&) = delete;
  current_span_scope& operator=(const current_span_scope&) = delete;

 private:
  const span_context* outer_;
};

}  // namespace ferry
