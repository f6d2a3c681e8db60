// shop-order: order-service. Takes orders over HTTP (api.h), publishes order.created, and
// follows each order's outcome (order.confirmed, order.cancelled; durable groups) to its final
// status.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "api.h"
#include "codec.h"
#include "order_store.h"
#include "service.h"

namespace {

// Moves the order of an outcome event (`E`: order_confirmed or order_cancelled) to its final
// status; an outcome for an order already final changes nothing.
template <class E>
ferry::outcome settle_order(shop::order_store& store, ferry::message& m, std::string_view status) {
  auto e = shop::read_event<E>(m);
  if (!e.is_ok()) return ferry::outcome::drop(e.status());
  std::string reason;
  if constexpr (requires { e->reason; }) reason = e->reason;
  auto moved = store.finish(e->order_id, status, reason);
  if (!moved.is_ok()) return moved.status();  // retry
  if (*moved) {
    spdlog::info("order {}: {}{} [trace {}]", e->order_id, status, reason.empty() ? "" : " (" + reason + ")",
                 shop::current_trace_id());
  } else {
    spdlog::info("order {}: {} again (unknown or already final), nothing to do", e->order_id, status);
  }
  return ferry::status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  shop::service_options o{.name = "order", .http_port = 8080};
  CLI::App app(
      "shop-order: order-service. POST /orders takes an order and publishes order.created; GET /orders/{id}\n"
      "shows its status, which order.confirmed and order.cancelled make final.");
  shop::add_common_flags(app, o);
  CLI11_PARSE(app, argc, argv);
  if (o.http_port == 0) {
    std::fprintf(stderr, "shop-order: --http must name a port (the API is served there)\n");
    return 1;
  }

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-order: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  auto store = shop::order_store::open(s.data_path("orders.db"));
  if (!store.is_ok()) {
    spdlog::error("opening the database: {}", store.status().to_string());
    return 1;
  }
  shop::order_store& st = **store;
  shop::install_order_api(s.http().routes(), st, *s.bus().streams, s.tracer());

  ferry::router r(*s.bus().streams);
  s.use_standard_middleware(r);
  ferry::handler_options confirmed{
      .name = "order-confirmed",
      .subject = std::string(shop::subject::order_confirmed),
      .group = "order-confirmed",
      .concurrency = 2,
      .middleware = s.handler_middleware(),
  };
  ferry::handler_options cancelled = confirmed;
  cancelled.name = cancelled.group = "order-cancelled";
  cancelled.subject = std::string(shop::subject::order_cancelled);
  cancelled.middleware = s.handler_middleware();
  ferry::status added = r.add_handler(std::move(confirmed), [&](ferry::message& m) {
    return settle_order<shop::order_confirmed>(st, m, shop::order_status::confirmed);
  });
  if (added.is_ok())
    added = r.add_handler(std::move(cancelled), [&](ferry::message& m) {
      return settle_order<shop::order_cancelled>(st, m, shop::order_status::cancelled);
    });
  if (!added.is_ok()) {
    spdlog::error("adding the handlers: {}", added.to_string());
    return 1;
  }
  return s.run(r, [&] {
    auto counts = st.count_by_status();
    if (!counts.is_ok()) throw std::runtime_error(counts.status().to_string());
    return nlohmann::json(*counts);
  });
}
