// shop-inventory: inventory-service. Consumes order.created (durable group "inventory"), reserves
// the stock, charges the payment by request/reply and emits order.confirmed or order.cancelled
// (see saga.h). Duplicates are stopped by the dedup middleware (SQLite, keyed on the order id)
// and, behind it, by the reservation's own idempotency.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <map>

#include "codec.h"
#include "count_skipped.h"
#include "ferry/dedup.h"
#include "ferry/middleware.h"
#include "inventory_store.h"
#include "saga.h"
#include "service.h"

namespace {

// Parses "sku=qty" items into a stock map; throws CLI::ValidationError on a malformed one.
std::map<std::string, std::int64_t> parse_stock(const std::vector<std::string>& items) {
  std::map<std::string, std::int64_t> stock;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    std::int64_t qty = -1;
    if (eq != std::string::npos && eq > 0) {
      try {
        qty = std::stoll(item.substr(eq + 1));
      } catch (const std::exception&) {
        qty = -1;
      }
    }
    if (qty < 0) throw CLI::ValidationError("--stock", "expected sku=qty with qty >= 0, got '" + item + "'");
    stock[item.substr(0, eq)] = qty;
  }
  return stock;
}

}  // namespace

int main(int argc, char** argv) {
  shop::service_options o{.name = "inventory"};
  std::vector<std::string> stock_items{"sku-book=100000", "sku-pen=100000", "sku-mug=100000", "sku-gold=5"};
  std::size_t concurrency = 4;
  int payment_timeout_ms = 2'000;
  CLI::App app(
      "shop-inventory: reserves stock for each order.created, charges it through payment-service (request/reply)\n"
      "and emits order.confirmed or order.cancelled, releasing the stock when the payment is declined.");
  shop::add_common_flags(app, o);
  app.add_option("--stock", stock_items, "Initial stock as sku=qty (repeat); used for skus the database lacks")
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "Orders handled at once (one customer's orders in order)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--payment-timeout", payment_timeout_ms, "Milliseconds to wait for payment-service")
      ->capture_default_str();
  std::map<std::string, std::int64_t> stock;
  try {
    app.parse(argc, argv);
    stock = parse_stock(stock_items);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-inventory: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  auto store = shop::inventory_store::open(s.data_path("inventory.db"), stock);
  auto dedup_store = ferry::sqlite_dedup_store::open(s.data_path("dedup.db"));
  if (!store.is_ok() || !dedup_store.is_ok()) {
    spdlog::error("opening the databases: {} {}", store.status().to_string(), dedup_store.status().to_string());
    return 1;
  }
  shop::stock_saga saga(**store, *s.bus().core, std::chrono::milliseconds(payment_timeout_ms));

  ferry::router r(*s.bus().streams);
  s.use_standard_middleware(r);
  // A reservation of a key outlives its process by in_flight_ttl; keep it under the ack wait, so
  // that the redelivery of a message whose handler was killed is not held back as "in flight".
  auto dedup =
      ferry::middleware::dedup(**dedup_store, {
                                                  .ttl = std::chrono::hours(1),
                                                  .in_flight_ttl = std::chrono::seconds(3),
                                                  .key = [](const ferry::message& m) { return shop::event_id_of(m); },
                                              });
  auto on_duplicate = [st = store->get()](const ferry::message& m) {
    if (ferry::status c = st->count("duplicates_suppressed"); !c.is_ok())
      spdlog::warn("counting a duplicate: {}", c.to_string());
    spdlog::info("order {}: duplicate order.created suppressed by the dedup store [trace {}]", shop::event_id_of(m),
                 shop::current_trace_id());
  };
  ferry::handler_options h{
      .name = "reserve-stock",
      .subject = std::string(shop::subject::order_created),
      .group = "inventory",
      .concurrency = concurrency,
      .order = ferry::ordering::per_key,
      .middleware = s.handler_middleware({shop::count_skipped(std::move(dedup), on_duplicate)}),
      .subscription = {.max_in_flight = 64, .ack_wait = std::chrono::seconds(5)},
  };
  if (ferry::status st = r.add_handler(std::move(h), [&saga](ferry::message& m) { return saga.handle(m); });
      !st.is_ok()) {
    spdlog::error("adding the handler: {}", st.to_string());
    return 1;
  }
  return s.run(r, [&] {
    auto stats = store.value()->stats();
    if (!stats.is_ok()) throw std::runtime_error(stats.status().to_string());
    return nlohmann::json(*stats);
  });
}
