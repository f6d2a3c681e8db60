// grpc: synchronous gRPC calls beside the bus, in the same trace and with the same metrics.
//
//   ferry::tracer tracer(otlp);                        // the tracer the router's middleware uses
//   ferry::metrics_registry metrics;                   // the registry the router's middleware uses
//   ferry::grpc::options o{.tracer = &tracer, .metrics = &metrics};
//
//   // server: every call gets a SERVER span, child of the caller's traceparent
//   grpc::ServerBuilder b;
//   ferry::grpc::add_server_interceptor(b, o);
//   b.RegisterService(&payment_service);
//
//   // client: every call gets a CLIENT span, child of the span running on this thread (a router
//   // handler's), and sends its traceparent and the correlation id
//   auto stub = Payment::NewStub(ferry::grpc::make_channel("127.0.0.1:50051", o));
//   auto ctx = ferry::grpc::call_context(message, 2s);   // inside a handler of `message`
//   grpc::Status s = stub->Charge(ctx.get(), request, &reply);
//
// What crosses the wire (request metadata): `traceparent` and `tracestate` (W3C Trace Context, as
// on messages) and `correlation-id` (the Correlation-Id header of messages).
//
// Spans (when options.tracer is set): kind CLIENT or SERVER, named "<package.Service>/<Method>",
// with rpc.system "grpc", rpc.service, rpc.method, rpc.grpc.status_code and ferry.correlation_id
// (the OTLP exporter sends them with OpenTelemetry's RPC conventions). The server's span is a child
// of the client's, which is a child of the handler span the call was made from: one trace runs
// from an event through the call and on to the events the server publishes.
//
// While a server method runs, the server interceptor makes the call's span current on that thread
// (current_traceparent() returns it, so messages published there join the trace), and its
// deadline and correlation id too: call_context() made there inherits both (a nested call never
// outlives the call it serves). This holds for the synchronous API, whose methods run on the
// thread that received the call and return before its status is sent; with the callback and
// completion-queue APIs the spans and metrics are still made, but read the metadata yourself.
//
// Metrics (when options.metrics is set): the router's families (ferry_handler_received_total,
// ..._acked_total, ..._retried_total, ..._dropped_total, ..._in_flight, ..._duration_seconds)
// with handler="grpc server <method>" or "grpc client <method>", method as "/pkg.Service/Method".
// A call ends acked when its status is OK, retried when it is worth trying again (UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED) and dropped otherwise.
//
// Link ferry::grpc (gRPC C++ from Debian's libgrpc++-dev).
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "ferry/metrics.h"
#include "ferry/status.h"
#include "ferry/tracing.h"

namespace ferry::grpc {

// Request metadata keys (gRPC metadata keys are lower case).
inline constexpr std::string_view traceparent_key = "traceparent";
inline constexpr std::string_view tracestate_key = "tracestate";
inline constexpr std::string_view correlation_id_key = "correlation-id";

struct options {
  // Spans of calls; null: none are made, but the traceparent of the current span still travels.
  ferry::tracer* tracer = nullptr;
  // The router's metric families, per method; null: none recorded.
  ferry::metrics_registry* metrics = nullptr;
};

// The interceptor factories. They keep a copy of `o`; the tracer and registry it points to must
// outlive the channels and servers that use them.
std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface> client_interceptor(options o);
std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface> server_interceptor(options o);

// A channel to `target` ("host:port", or any gRPC target URI) with the client interceptor;
// plaintext unless `credentials` are given.
std::shared_ptr<::grpc::Channel> make_channel(const std::string& target, options o,
                                              std::shared_ptr<::grpc::ChannelCredentials> credentials = nullptr);
// Adds the server interceptor to `builder` (call once, before BuildAndStart()).
void add_server_interceptor(::grpc::ServerBuilder& builder, options o);

// A context for one call: deadline now + timeout, shortened to the deadline of the call served on
// this thread, if any (deadline propagation), with that call's correlation id.
std::unique_ptr<::grpc::ClientContext> call_context(std::chrono::milliseconds timeout);
// The same for a call made while handling `cause`: the deadline is also capped by the message's
// (set by the timeout middleware), and the correlation id is the message's Correlation-Id.
std::unique_ptr<::grpc::ClientContext> call_context(const message& cause, std::chrono::milliseconds timeout);

// Inside a server method: the correlation id the call carried (empty when none, or outside one).
std::string current_correlation_id();

// Status conversions. gRPC's codes without a ferry equivalent: UNKNOWN -> internal, ABORTED ->
// unavailable (try again), OUT_OF_RANGE -> invalid_argument; ferry's io_error -> INTERNAL.
ferry::status to_status(const ::grpc::Status& s);
::grpc::Status to_grpc_status(const ferry::status& s);
// "ack" (OK), "retry" (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED) or "drop".
std::string_view outcome_of(::grpc::StatusCode code);

}  // namespace ferry::grpc
