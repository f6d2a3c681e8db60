// shop-order: order-service. Takes orders over HTTP (api.h), writes each with its order.created
// in one transaction (the outbox, relayed to the broker by a relay thread), and follows each
// order's outcome (order.confirmed, order.cancelled; durable groups, through an inbox) to its
// final status.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "api.h"
#include "codec.h"
#include "ferry/outbox.h"
#include "order_store.h"
#include "service.h"

namespace {

// Moves the order of an outcome event (`E`: order_confirmed or order_cancelled) to its final
// status, in the inbox's transaction; an outcome for an order already final changes nothing.
template <class E>
ferry::outcome settle_order(shop::order_store& store, ferry::sql::transaction& tx, ferry::message& m,
                            std::string_view status) {
  auto e = shop::read_event<E>(m);
  if (!e.is_ok()) return ferry::outcome::drop(e.status());
  std::string reason;
  if constexpr (requires { e->reason; }) reason = e->reason;
  auto moved = store.finish(tx, e->order_id, status, reason);
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
      "shop-order: order-service. POST /orders stores an order and its order.created in one transaction\n"
      "(the outbox; a relay publishes it); GET /orders/{id} shows its status, which order.confirmed and\n"
      "order.cancelled make final.");
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
  // The relay runs in this process: it is woken in-process, so no NOTIFY is needed.
  auto db = ferry::sql::open("sqlite:" + s.data_path("orders.db"), {.pool_size = 8});
  auto store = db.is_ok() ? shop::order_store::open(*db.value()) : db.status();
  auto box = db.is_ok() ? ferry::outbox::open(*db.value()) : db.status();
  auto in = db.is_ok() ? ferry::inbox::open(*db.value(), {.consumer = "order"}) : db.status();
  if (!store.is_ok() || !box.is_ok() || !in.is_ok()) {
    spdlog::error("opening the database: {} {} {}", store.status().to_string(), box.status().to_string(),
                  in.status().to_string());
    return 1;
  }
  shop::order_store& st = **store;
  // A stable name: restarted after a crash, the relay takes its SQLite lease back at once.
  ferry::outbox_relay relay(*db.value(), *s.bus().streams, {.name = o.name});
  if (ferry::status started = relay.start(); !started.is_ok()) {
    spdlog::error("starting the outbox relay: {}", started.to_string());
    return 1;
  }
  s.at_stop([&relay] { relay.stop(); });
  s.add_metrics([&relay] { return relay.prometheus_text(); });
  shop::install_order_api(s.http().routes(), *db.value(), st, box.value(), s.tracer());

  ferry::router r(*s.bus().streams);
  s.use_standard_middleware(r);
  ferry::handler_options confirmed{
      .name = "order-confirmed",
      .subject = std::string(shop::subject::order_confirmed),
      .group = "order-confirmed",
      .concurrency = 2,
      .middleware = s.handler_middleware(),
      // What a killed instance held is redelivered after this (the default is 30 s).
      .subscription = {.ack_wait = std::chrono::seconds(5)},
  };
  ferry::handler_options cancelled = confirmed;
  cancelled.name = cancelled.group = "order-cancelled";
  cancelled.subject = std::string(shop::subject::order_cancelled);
  cancelled.middleware = s.handler_middleware();
  ferry::status added =
      r.add_handler(std::move(confirmed), in->wrap([&](ferry::sql::transaction& tx, ferry::message& m) {
        return settle_order<shop::order_confirmed>(st, tx, m, shop::order_status::confirmed);
      }));
  if (added.is_ok())
    added = r.add_handler(std::move(cancelled), in->wrap([&](ferry::sql::transaction& tx, ferry::message& m) {
      return settle_order<shop::order_cancelled>(st, tx, m, shop::order_status::cancelled);
    }));
  if (!added.is_ok()) {
    spdlog::error("adding the handlers: {}", added.to_string());
    return 1;
  }
  return s.run(r, [&] {
    auto counts = st.count_by_status();
    if (!counts.is_ok()) throw std::runtime_error(counts.status().to_string());
    const ferry::outbox_relay_stats rs = relay.stats();
    nlohmann::json j(*counts);
    j["outbox"] = {{"published", rs.published},
                   {"publish_failures", rs.failures},
                   {"pending", rs.pending.rows},
                   {"oldest_pending_ms", rs.pending.oldest_age.count()}};
    return j;
  });
}
