// shop-payment: payment-service. Answers payment.charge requests (queue group "payment", so
// several instances share them) by the rules in payment_rules.h, over NATS core request/reply.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>

#include "codec.h"
#include "payment_rules.h"
#include "service.h"

int main(int argc, char** argv) {
  shop::service_options o{.name = "payment"};
  std::size_t concurrency = 4;
  CLI::App app(
      "shop-payment: answers payment.charge requests (request/reply, queue group \"payment\"); declines\n"
      "charges over 1000 and every charge of customer \"mallory\".");
  shop::add_common_flags(app, o);
  app.add_option("--concurrency", concurrency, "Requests answered at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-payment: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  std::atomic<std::int64_t> approved{0}, declined{0};

  ferry::router r(*s.bus().core);
  s.use_standard_middleware(r);
  ferry::handler_options h{
      .name = "charge",
      .subject = std::string(shop::subject::payment_charge),
      .group = "payment",
      .concurrency = concurrency,
      .middleware = s.handler_middleware(),
  };
  auto status = r.add_handler(std::move(h), [&](ferry::message& m) -> ferry::outcome {
    if (m.reply.empty()) return ferry::outcome::drop(ferry::invalid_argument("payment.charge without a reply subject"));
    auto req = shop::read_event<shop::charge_request>(m);
    if (!req.is_ok()) return ferry::outcome::drop(req.status());
    const shop::charge_reply reply = shop::decide_charge(*req);
    (reply.approved ? approved : declined)++;
    spdlog::info("order {}: charge of {:.2f} for {} {}{} [trace {}]", req->order_id, req->amount, req->customer,
                 reply.approved ? "approved as " + reply.payment_id : "declined: ", reply.reason,
                 shop::current_trace_id());
    return std::vector{shop::make_event(m.reply, reply, "/shop/payment")};
  });
  if (!status.is_ok()) {
    spdlog::error("adding the handler: {}", status.to_string());
    return 1;
  }
  return s.run(r, [&] { return nlohmann::json{{"approved", approved.load()}, {"declined", declined.load()}}; });
}
