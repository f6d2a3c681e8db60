// shop-notification: notification-service. Consumes order.confirmed and order.cancelled (durable
// groups "notification-confirmed" and "notification-cancelled": a group is one durable consumer
// per subject) and "sends" the customer a notification (a log line), once per order outcome: each
// delivery is handled through an inbox (a redelivered message changes nothing), and the
// notifications table is keyed on the event id, so an outcome re-published under a new message
// id is recognised and not sent again. GET /stats on --http reports the counts.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "codec.h"
#include "ferry/outbox.h"
#include "notification_store.h"
#include "service.h"

namespace {

// Records and "sends" the notification for one outcome event. `E` is order_confirmed or
// order_cancelled.
template <class E>
ferry::outcome notify(shop::notification_store& store, ferry::sql::transaction& tx, ferry::message& m,
                      const char* kind) {
  auto e = shop::read_event<E>(m);
  if (!e.is_ok()) return ferry::outcome::drop(e.status());
  std::string text = "your order " + e->order_id + " is " + kind;
  if constexpr (requires { e->reason; }) text += " (" + e->reason + ")";
  auto fresh = store.record(tx, shop::event_id(*e), e->order_id, kind, text);
  if (!fresh.is_ok()) return fresh.status();  // retry
  if (*fresh) {
    spdlog::info("notify {}: {} [trace {}]", m.key.empty() ? "customer" : m.key, text, shop::current_trace_id());
  } else {
    spdlog::info("order {}: {} notification already sent, duplicate ignored", e->order_id, kind);
  }
  return ferry::status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  shop::service_options o{.name = "notification"};
  CLI::App app(
      "shop-notification: sends one notification per order outcome (order.confirmed, order.cancelled);\n"
      "GET /stats counts them.");
  shop::add_common_flags(app, o);
  CLI11_PARSE(app, argc, argv);

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-notification: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  auto db = ferry::sql::open("sqlite:" + s.data_path("notifications.db"), {.pool_size = 4});
  auto store = db.is_ok() ? shop::notification_store::open(*db.value()) : db.status();
  auto in = db.is_ok() ? ferry::inbox::open(*db.value(), {.consumer = "notification"}) : db.status();
  if (!store.is_ok() || !in.is_ok()) {
    spdlog::error("opening the database: {} {}", store.status().to_string(), in.status().to_string());
    return 1;
  }
  shop::notification_store& st = **store;

  ferry::router r(*s.bus().streams);
  s.use_standard_middleware(r);
  ferry::handler_options confirmed{
      .name = "notify-confirmed",
      .subject = std::string(shop::subject::order_confirmed),
      .group = "notification-confirmed",
      .concurrency = 2,
      .middleware = s.handler_middleware(),
      .subscription = {.ack_wait = std::chrono::seconds(5)},
  };
  ferry::handler_options cancelled = confirmed;
  cancelled.name = "notify-cancelled";
  cancelled.group = "notification-cancelled";
  cancelled.subject = std::string(shop::subject::order_cancelled);
  cancelled.middleware = s.handler_middleware();
  ferry::status added =
      r.add_handler(std::move(confirmed), in->wrap([&](ferry::sql::transaction& tx, ferry::message& m) {
        return notify<shop::order_confirmed>(st, tx, m, "confirmed");
      }));
  if (added.is_ok())
    added = r.add_handler(std::move(cancelled), in->wrap([&](ferry::sql::transaction& tx, ferry::message& m) {
      return notify<shop::order_cancelled>(st, tx, m, "cancelled");
    }));
  if (!added.is_ok()) {
    spdlog::error("adding the handlers: {}", added.to_string());
    return 1;
  }
  return s.run(r, [&] {
    auto counts = st.counts();
    if (!counts.is_ok()) throw std::runtime_error(counts.status().to_string());
    return nlohmann::json(*counts);
  });
}
