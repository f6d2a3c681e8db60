// shop-payment: payment-service. A participant of the order saga: consumes the saga's
// payment.charge and payment.refund commands (durable groups "payment" and "payment-refund") and
// answers each with a saga reply (ferry::saga_reply) on saga.order.reply, published by the router
// before the command is acked. Charges are decided by the rules in payment_rules.h (the same
// answer for a repeated command, so a redelivered command charges once); the charges of the
// "stalled" customer are left unanswered, as a payment provider that hangs, so the saga's timeout
// cancels them. Refunds always succeed.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>

#include "bus.h"
#include "codec.h"
#include "ferry/saga.h"
#include "payment_rules.h"
#include "service.h"

int main(int argc, char** argv) {
  shop::service_options o{.name = "payment"};
  std::size_t concurrency = 4;
  CLI::App app(
      "shop-payment: answers the order saga's payment.charge and payment.refund commands on saga.order.reply;\n"
      "declines charges over 1000 and every charge of customer \"mallory\", never answers customer \"sloth\".");
  shop::add_common_flags(app, o);
  app.add_option("--concurrency", concurrency, "Commands handled at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-payment: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  std::atomic<std::int64_t> approved{0}, declined{0}, unanswered{0}, refunded{0};

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
                          {"refunded", refunded.load()}};
  });
}
