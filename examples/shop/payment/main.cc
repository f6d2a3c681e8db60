// shop-payment: payment-service. A participant of the order saga: consumes the saga's
// payment.charge and payment.refund commands (durable groups "payment" and "payment-refund") and
// answers each with a saga reply (ferry::saga_reply) on saga.order.reply, published by the router
// before the command is acked. Charges are decided by the rules in payment_rules.h (the same
// answer for a repeated command, so a redelivered command charges once); the charges of the
// "stalled" customer are left unanswered, as a payment provider that hangs, so the saga's timeout
// cancels them. Refunds always succeed.
//
// With --grpc-listen it also serves Charge over gRPC (proto/payment.proto; shop-inventory
// --payment-grpc calls it), by the same rules, in the same trace as its caller (ferry::grpc's
// server interceptor); the "stalled" customer's calls run until their deadline and end with
// DEADLINE_EXCEEDED.
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "bus.h"
#include "codec.h"
#include "ferry/grpc.h"
#include "ferry/saga.h"
#include "payment_rules.h"
#include "proto/payment.grpc.pb.h"
#include "service.h"

namespace {

struct counters {
  std::atomic<std::int64_t> approved{0}, declined{0}, unanswered{0}, refunded{0}, grpc_calls{0};
};

// Charge over gRPC: the decision of the saga command, answered at once.
class payment_api final : public shop::payment::v1::Payment::Service {
 public:
  explicit payment_api(counters& c) : c_(c) {}

  ::grpc::Status Charge(::grpc::ServerContext* ctx, const shop::payment::v1::ChargeRequest* req,
                        shop::payment::v1::ChargeReply* reply) override {
    ++c_.grpc_calls;
    if (req->order_id().empty()) return {::grpc::StatusCode::INVALID_ARGUMENT, "Charge without an order id"};
    if (req->customer() == shop::stalled_customer) {
      ++c_.unanswered;
      spdlog::info(
          "order {}: the payment provider of {} does not answer; the gRPC call runs to its deadline [trace {}]",
          req->order_id(), req->customer(), shop::current_trace_id());
      // Until the caller's deadline (a minute at most: a caller without one is not kept forever).
      const auto until = std::min(ctx->deadline(), std::chrono::system_clock::now() + std::chrono::minutes(1));
      while (!ctx->IsCancelled() && std::chrono::system_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return {::grpc::StatusCode::DEADLINE_EXCEEDED, "the payment provider did not answer"};
    }
    const shop::charge_reply r =
        shop::decide_charge({.order_id = req->order_id(), .customer = req->customer(), .amount = req->amount()});
    (r.approved ? c_.approved : c_.declined)++;
    spdlog::info("order {}: charge of {:.2f} for {} over gRPC {}{} [trace {}]", req->order_id(), req->amount(),
                 req->customer(), r.approved ? "approved as " + r.payment_id : "declined: ", r.reason,
                 shop::current_trace_id());
    reply->set_approved(r.approved);
    reply->set_payment_id(r.payment_id);
    reply->set_reason(r.reason);
    return ::grpc::Status::OK;
  }

 private:
  counters& c_;
};

}  // namespace

int main(int argc, char** argv) {
  shop::service_options o{.name = "payment"};
  std::size_t concurrency = 4;
  std::string grpc_listen;
  CLI::App app(
      "shop-payment: answers the order saga's payment.charge and payment.refund commands on saga.order.reply;\n"
      "declines charges over 1000 and every charge of customer \"mallory\", never answers customer \"sloth\".");
  shop::add_common_flags(app, o);
  app.add_option("--concurrency", concurrency, "Commands handled at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--grpc-listen", grpc_listen,
                 "Also serve shop.payment.v1.Payment/Charge over gRPC on this address (host:port)");
  CLI11_PARSE(app, argc, argv);

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-payment: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  counters c;
  auto &approved = c.approved, &declined = c.declined, &unanswered = c.unanswered, &refunded = c.refunded;

  payment_api api(c);
  std::unique_ptr<::grpc::Server> grpc_server;
  if (!grpc_listen.empty()) {
    ::grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(grpc_listen, ::grpc::InsecureServerCredentials(), &port);
    ferry::grpc::add_server_interceptor(b, {.tracer = &s.tracer(), .metrics = &s.metrics()});
    b.RegisterService(&api);
    grpc_server = b.BuildAndStart();
    if (!grpc_server || port == 0) {
      spdlog::error("shop-payment: cannot serve gRPC on {} (in use, or not host:port?)", grpc_listen);
      return 1;
    }
    spdlog::info("serving shop.payment.v1.Payment over gRPC on {}", grpc_listen);
    s.at_stop([&] { grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); });
  }

  ferry::router r(*s.bus().streams);
  s.use_standard_middleware(r);
  ferry::handler_options charges{
      .name = "charge",
      .subject = std::string(shop::subject::payment_charge),
      .group = std::string(shop::group::charges),
      .concurrency = concurrency,
      .middleware = s.handler_middleware(),
      .subscription = {.ack_wait = std::chrono::seconds(5)},
  };
  ferry::handler_options refunds = charges;
  refunds.name = "refund";
  refunds.subject = std::string(shop::subject::payment_refund);
  refunds.group = std::string(shop::group::refunds);
  refunds.middleware = s.handler_middleware();
  auto status = r.add_handler(std::move(charges), [&](ferry::message& m) -> ferry::outcome {
    if (!m.headers.contains(ferry::header::saga_reply_to)) {
      return ferry::outcome::drop(ferry::invalid_argument("payment.charge without a saga reply subject"));
    }
    auto req = shop::read_event<shop::charge_request>(m);
    if (!req.is_ok()) return ferry::outcome::drop(req.status());
    if (req->customer == shop::stalled_customer) {
      ++unanswered;
      spdlog::info("order {}: the payment provider of {} does not answer; no reply [trace {}]", req->order_id,
                   req->customer, shop::current_trace_id());
      return ferry::status::ok();
    }
    const shop::charge_reply reply = shop::decide_charge(*req);
    (reply.approved ? approved : declined)++;
    spdlog::info("order {}: charge of {:.2f} for {} {}{} [trace {}]", req->order_id, req->amount, req->customer,
                 reply.approved ? "approved as " + reply.payment_id : "declined: ", reply.reason,
                 shop::current_trace_id());
    // The reply carries the charge_reply event (its payload and its Content-Type).
    ferry::message event = shop::make_event("-", reply, "/shop/payment");
    ferry::message out = ferry::saga_reply(m, reply.approved, std::move(event.payload), reply.reason);
    for (const auto& [name, value] : event.headers) out.headers.set(name, value);
    return std::vector{std::move(out)};
  });
  if (status.is_ok())
    status = r.add_handler(std::move(refunds), [&](ferry::message& m) -> ferry::outcome {
      auto req = shop::read_event<shop::charge_request>(m);
      if (!req.is_ok()) return ferry::outcome::drop(req.status());
      ++refunded;
      spdlog::info("order {}: refunded (if it was charged) [trace {}]", req->order_id, shop::current_trace_id());
      return std::vector{ferry::saga_reply(m, true)};
    });
  if (!status.is_ok()) {
    spdlog::error("adding the handlers: {}", status.to_string());
    return 1;
  }
  return s.run(r, [&] {
    return nlohmann::json{{"approved", approved.load()},
                          {"declined", declined.load()},
                          {"unanswered", unanswered.load()},
                          {"refunded", refunded.load()},
                          {"grpc_calls", c.grpc_calls.load()}};
  });
}
