// ferry::grpc against a real gRPC server on loopback: the trace chains from a handler through the
// client and server interceptors into the server method (and into calls it makes), the correlation
// id and the deadline travel, and both sides record the router's metrics.
#include "ferry/grpc.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "ferry/inproc.h"
#include "ferry/middleware.h"
#include "ferry/router.h"
#include "ferry_grpc_test.grpc.pb.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using echo::v1::Echo;
using echo::v1::EchoReply;
using echo::v1::EchoRequest;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr std::string_view kMethod = "/ferry.echo.v1.Echo/Say";

// Answers Say with what it saw while running: the current span, correlation id and deadline.
class echo_service final : public Echo::Service {
 public:
  echo_service(const grpc::options& o, transport& bus) : o_(o), bus_(bus) {}

  ::grpc::Status Say(::grpc::ServerContext* ctx, const EchoRequest* req, EchoReply* reply) override {
    reply->set_text(req->text());
    reply->set_traceparent(current_traceparent());
    reply->set_correlation_id(grpc::current_correlation_id());
    reply->set_deadline_left_ms(
        duration_cast<milliseconds>(ctx->deadline() - std::chrono::system_clock::now()).count());
    const auto until = std::chrono::steady_clock::now() + milliseconds(req->delay_ms());
    while (std::chrono::steady_clock::now() < until && !ctx->IsCancelled()) std::this_thread::sleep_for(5ms);
    if (!req->forward_to().empty()) {
      auto stub = Echo::NewStub(grpc::make_channel(req->forward_to(), o_));
      auto nested = grpc::call_context(10s);
      EchoRequest next;
      next.set_text("nested");
      if (auto s = stub->Say(nested.get(), next, reply->mutable_forwarded()); !s.ok()) return s;
    }
    if (!req->publish_to().empty()) {
      message event(req->publish_to(), req->text());
      event.headers.set(std::string(header::traceparent), current_traceparent());
      if (auto s = bus_.publish(std::move(event)); !s.is_ok()) return grpc::to_grpc_status(s);
    }
    if (req->fail_with() != 0) return {static_cast<::grpc::StatusCode>(req->fail_with()), "asked to fail"};
    return ::grpc::Status::OK;
  }

 private:
  grpc::options o_;
  transport& bus_;
};

class GrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", ::grpc::InsecureServerCredentials(), &port);
    grpc::add_server_interceptor(b, o_);
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    ASSERT_GT(port, 0);
    target_ = "127.0.0.1:" + std::to_string(port);
    stub_ = Echo::NewStub(grpc::make_channel(target_, o_));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  std::vector<span> spans_of(span_kind k) const {
    std::vector<span> out;
    for (auto& s : spans_->spans())
      if (s.kind == k) out.push_back(s);
    return out;
  }

  // The server span ends when its status is sent, a moment after a cancelled client returns.
  std::vector<span> wait_for_spans(span_kind k, std::size_t n) const {
    for (int i = 0; i < 400 && spans_of(k).size() < n; ++i) std::this_thread::sleep_for(5ms);
    return spans_of(k);
  }

  std::shared_ptr<memory_exporter> spans_ = std::make_shared<memory_exporter>();
  tracer tracer_{spans_};
  metrics_registry metrics_;
  grpc::options o_{.tracer = &tracer_, .metrics = &metrics_};
  std::shared_ptr<transport> bus_ = inproc::make_transport({.workers = 2});
  echo_service service_{o_, *bus_};
  std::unique_ptr<::grpc::Server> server_;
  std::string target_;
  std::unique_ptr<Echo::Stub> stub_;
};

TEST_F(GrpcTest, OneTraceRunsFromAnEventThroughTheCallIntoTheServerAndOnToTheEventsItPublishes) {
  // order.created -> handler "charge" calls Say -> the method publishes payment.made -> "audit".
  EchoReply reply;
  ::grpc::Status status;
  std::atomic<bool> audited{false};
  router r(*bus_);
  r.use(middleware::tracing(tracer_));
  ASSERT_TRUE(r.add_handler({.name = "charge", .subject = "order.created"}, [&](message& m) -> outcome {
                 auto ctx = grpc::call_context(m, 2s);
                 EchoRequest req;
                 req.set_text("hello");
                 req.set_publish_to("payment.made");
                 status = stub_->Say(ctx.get(), req, &reply);
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.add_handler({.name = "audit", .subject = "payment.made"}, [&](message&) {
                 audited = true;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  message m("order.created", "");
  m.headers.set(std::string(header::correlation_id), "order-42");
  ASSERT_TRUE(bus_->publish(std::move(m)).is_ok());
  for (int i = 0; i < 400 && spans_of(span_kind::consumer).size() < 2; ++i) std::this_thread::sleep_for(5ms);
  r.stop(1s);
  ASSERT_TRUE(audited);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "hello");

  std::vector<span> handler, audit;
  for (auto& s : spans_of(span_kind::consumer)) (s.handler == "charge" ? handler : audit).push_back(s);
  auto client = spans_of(span_kind::client);
  auto server = spans_of(span_kind::server);
  ASSERT_EQ(handler.size(), 1u);
  ASSERT_EQ(audit.size(), 1u);
  ASSERT_EQ(client.size(), 1u);
  ASSERT_EQ(server.size(), 1u);
  // The span ids chain: handler -> client -> server -> the event's handler, in one trace.
  EXPECT_EQ(client[0].trace_id, handler[0].trace_id);
  EXPECT_EQ(client[0].parent_span_id, handler[0].span_id);
  EXPECT_EQ(server[0].trace_id, handler[0].trace_id);
  EXPECT_EQ(server[0].parent_span_id, client[0].span_id);
  EXPECT_NE(server[0].span_id, client[0].span_id);
  EXPECT_EQ(audit[0].trace_id, handler[0].trace_id);
  EXPECT_EQ(audit[0].parent_span_id, server[0].span_id);
  // Inside the method, the server span is current: what it publishes joins the trace.
  auto inside = parse_traceparent(reply.traceparent());
  ASSERT_TRUE(inside) << reply.traceparent();
  EXPECT_EQ(inside->trace_id, server[0].trace_id);
  EXPECT_EQ(inside->span_id, server[0].span_id);
  EXPECT_EQ(handler[0].correlation_id, "order-42");
  EXPECT_EQ(reply.correlation_id(), "order-42");
  for (const auto& s : {client[0], server[0]}) {
    EXPECT_EQ(s.name, "ferry.echo.v1.Echo/Say");
    EXPECT_EQ(s.system, "grpc");
    EXPECT_EQ(s.rpc_service, "ferry.echo.v1.Echo");
    EXPECT_EQ(s.rpc_method, "Say");
    EXPECT_EQ(s.rpc_status_code, 0);
    EXPECT_EQ(s.outcome, "ok");
    EXPECT_EQ(s.correlation_id, "order-42");
  }
  // The deadline came from call_context: 2 s, less the time on the way (plus gRPC's rounding up).
  EXPECT_GT(reply.deadline_left_ms(), 1000);
  EXPECT_LE(reply.deadline_left_ms(), 2100);
  // Nothing stays current on this (the test's) thread.
  EXPECT_EQ(current_span_context(), nullptr);
}

TEST_F(GrpcTest, ACallFromNoSpanStartsATraceAndAnUninstrumentedCallerGetsARootServerSpan) {
  EchoRequest req;
  EchoReply reply;
  auto ctx = grpc::call_context(2s);
  ASSERT_TRUE(stub_->Say(ctx.get(), req, &reply).ok());
  auto client = spans_of(span_kind::client);
  auto server = spans_of(span_kind::server);
  ASSERT_EQ(client.size(), 1u);
  ASSERT_EQ(server.size(), 1u);
  EXPECT_TRUE(client[0].is_root());
  EXPECT_EQ(server[0].parent_span_id, client[0].span_id);
  EXPECT_TRUE(reply.correlation_id().empty());

  // A client without ferry's interceptor sends no traceparent: the server starts a trace.
  spans_->clear();
  auto plain = Echo::NewStub(::grpc::CreateChannel(target_, ::grpc::InsecureChannelCredentials()));
  ::grpc::ClientContext plain_ctx;
  plain_ctx.AddMetadata("correlation-id", "from-go");
  ASSERT_TRUE(plain->Say(&plain_ctx, req, &reply).ok());
  server = spans_of(span_kind::server);
  ASSERT_EQ(server.size(), 1u);
  EXPECT_TRUE(server[0].is_root());
  EXPECT_TRUE(spans_of(span_kind::client).empty());
  EXPECT_EQ(reply.correlation_id(), "from-go");
  EXPECT_EQ(parse_traceparent(reply.traceparent())->span_id, server[0].span_id);
}

TEST_F(GrpcTest, ATraceparentPutOnTheContextIsTheClientSpansParent) {
  constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto ctx = grpc::call_context(2s);
  ctx->AddMetadata("traceparent", std::string(kParent));
  EchoRequest req;
  EchoReply reply;
  ASSERT_TRUE(stub_->Say(ctx.get(), req, &reply).ok());
  auto client = spans_of(span_kind::client);
  ASSERT_EQ(client.size(), 1u);
  EXPECT_EQ(client[0].trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(client[0].parent_span_id.to_hex(), "00f067aa0ba902b7");
  // The server sees the client span as its parent, not the context's traceparent.
  auto server = spans_of(span_kind::server);
  ASSERT_EQ(server.size(), 1u);
  EXPECT_EQ(server[0].parent_span_id, client[0].span_id);
}

TEST_F(GrpcTest, ACallMadeInsideAServerMethodInheritsItsDeadlineCorrelationIdAndTrace) {
  message cause("orders.created", "");
  cause.headers.set(std::string(header::correlation_id), "order-7");
  auto ctx = grpc::call_context(cause, 1500ms);
  EchoRequest req;
  req.set_forward_to(target_);  // the method calls Say again, with call_context(10s)
  EchoReply reply;
  auto status = stub_->Say(ctx.get(), req, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(reply.has_forwarded());
  // The nested call asked for 10 s but cannot outlive the call it serves (gRPC rounds the
  // grpc-timeout it sends up, so a server may see a few milliseconds more than the client set).
  EXPECT_GT(reply.forwarded().deadline_left_ms(), 0);
  EXPECT_LE(reply.forwarded().deadline_left_ms(), 1600);
  EXPECT_EQ(reply.forwarded().correlation_id(), "order-7");

  auto client = wait_for_spans(span_kind::client, 2);
  auto server = wait_for_spans(span_kind::server, 2);
  ASSERT_EQ(client.size(), 2u);
  ASSERT_EQ(server.size(), 2u);
  // Spans finish inside out: the nested server, the nested client, the outer server, the outer client.
  const span& outer_client = client[1];
  const span& nested_client = client[0];
  const span& outer_server = server[1];
  const span& nested_server = server[0];
  EXPECT_TRUE(outer_client.is_root());
  EXPECT_EQ(outer_server.parent_span_id, outer_client.span_id);
  EXPECT_EQ(nested_client.parent_span_id, outer_server.span_id);
  EXPECT_EQ(nested_server.parent_span_id, nested_client.span_id);
  for (const auto* s : {&nested_client, &outer_server, &nested_server}) EXPECT_EQ(s->trace_id, outer_client.trace_id);
}

TEST_F(GrpcTest, AMessageDeadlineCapsTheCallDeadline) {
  message m("a", "");
  m.deadline = std::chrono::steady_clock::now() + 300ms;
  auto ctx = grpc::call_context(m, 10s);
  const auto left = ctx->deadline() - std::chrono::system_clock::now();
  EXPECT_LE(left, 300ms);
  EXPECT_GT(left, 0ms);
  message no_deadline("a", "");
  auto ctx2 = grpc::call_context(no_deadline, 10s);
  EXPECT_GT(ctx2->deadline() - std::chrono::system_clock::now(), 9s);
}

TEST_F(GrpcTest, APastDeadlineEndsTheClientSpanAsAnErrorAndCountsARetry) {
  auto ctx = grpc::call_context(150ms);
  EchoRequest req;
  req.set_delay_ms(3000);
  EchoReply reply;
  const auto status = stub_->Say(ctx.get(), req, &reply);
  EXPECT_EQ(status.error_code(), ::grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(grpc::to_status(status).code(), status_code::deadline_exceeded);
  auto client = spans_of(span_kind::client);
  ASSERT_EQ(client.size(), 1u);
  EXPECT_EQ(client[0].rpc_status_code, 4);
  EXPECT_EQ(client[0].outcome, "error");
  EXPECT_FALSE(client[0].error.is_ok());
  auto& m = metrics_.handler("grpc client " + std::string(kMethod));
  EXPECT_EQ(m.received.load(), 1u);
  EXPECT_EQ(m.retried.load(), 1u);
  EXPECT_EQ(m.acked.load(), 0u);
  EXPECT_EQ(m.in_flight.load(), 0);
  // The server noticed the cancellation, gave up, and its call ended too.
  auto& s = metrics_.handler("grpc server " + std::string(kMethod));
  for (int i = 0; i < 400 && s.in_flight.load() != 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(s.in_flight.load(), 0);
  EXPECT_EQ(s.received.load(), 1u);
}

TEST_F(GrpcTest, BothSidesRecordTheRoutersMetricsPerMethod) {
  EchoRequest req;
  EchoReply reply;
  for (int code : {0, 0, 3 /* INVALID_ARGUMENT */, 14 /* UNAVAILABLE */}) {
    req.set_fail_with(code);
    auto ctx = grpc::call_context(2s);
    EXPECT_EQ(static_cast<int>(stub_->Say(ctx.get(), req, &reply).error_code()), code);
  }
  for (const char* side : {"grpc client ", "grpc server "}) {
    auto& m = metrics_.handler(side + std::string(kMethod));
    SCOPED_TRACE(side);
    EXPECT_EQ(m.received.load(), 4u);
    EXPECT_EQ(m.acked.load(), 2u);
    EXPECT_EQ(m.dropped.load(), 1u);
    EXPECT_EQ(m.retried.load(), 1u);
    EXPECT_EQ(m.in_flight.load(), 0);
    EXPECT_EQ(m.duration_count.load(), 4u);
  }
  const std::string text = metrics_.prometheus_text();
  EXPECT_NE(text.find("ferry_handler_acked_total{handler=\"grpc server /ferry.echo.v1.Echo/Say\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ferry_handler_dropped_total{handler=\"grpc client /ferry.echo.v1.Echo/Say\"} 1"),
            std::string::npos);
  auto server = spans_of(span_kind::server);
  ASSERT_EQ(server.size(), 4u);
  EXPECT_EQ(server[2].rpc_status_code, 3);
  EXPECT_EQ(server[2].outcome, "error");
}

TEST(GrpcStatusTest, ConvertsBothWays) {
  for (auto c : {status_code::invalid_argument, status_code::not_found, status_code::already_exists,
                 status_code::permission_denied, status_code::unauthenticated, status_code::resource_exhausted,
                 status_code::failed_precondition, status_code::unavailable, status_code::deadline_exceeded,
                 status_code::data_loss, status_code::cancelled, status_code::unimplemented, status_code::internal}) {
    const status s(c, "why");
    const auto g = grpc::to_grpc_status(s);
    EXPECT_FALSE(g.ok());
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(grpc::to_status(g).code(), c) << s.to_string();
  }
  EXPECT_TRUE(grpc::to_grpc_status(status::ok()).ok());
  EXPECT_TRUE(grpc::to_status(::grpc::Status::OK).is_ok());
  EXPECT_EQ(grpc::to_grpc_status(status(status_code::io_error, "disk")).error_code(), ::grpc::StatusCode::INTERNAL);
  EXPECT_EQ(grpc::to_status({::grpc::StatusCode::ABORTED, ""}).code(), status_code::unavailable);
  EXPECT_EQ(grpc::to_status({::grpc::StatusCode::UNKNOWN, ""}).code(), status_code::internal);
  EXPECT_EQ(grpc::outcome_of(::grpc::StatusCode::OK), "ack");
  EXPECT_EQ(grpc::outcome_of(::grpc::StatusCode::UNAVAILABLE), "retry");
  EXPECT_EQ(grpc::outcome_of(::grpc::StatusCode::RESOURCE_EXHAUSTED), "retry");
  EXPECT_EQ(grpc::outcome_of(::grpc::StatusCode::NOT_FOUND), "drop");
}

}  // namespace
}  // namespace ferry
