// shop-load: drives the shop. Posts orders (a deterministic mix of normal, out-of-stock and
// declined ones) to order-service, slips poison messages and duplicate deliveries into
// order.created, follows every order to its final state, then prints a summary and checks it
// against the rules. Exit status: 0 every check passed, 1 a check failed (something lost or
// inconsistent), 2 the run could not take place.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "bus.h"
#include "bus_probe.h"
#include "driver.h"

int main(int argc, char** argv) {
  shop::load::driver_options o;
  std::string server = "nats://127.0.0.1:4222";
  if (const char* env = std::getenv("FERRY_SERVER"); env != nullptr && *env != '\0') server = env;
  int timeout_s = static_cast<int>(o.timeout.count());
  CLI::App app(
      "shop-load: posts orders to the shop, injects poison messages and duplicates, waits until every order\n"
      "is final and prints a summary (orders confirmed and cancelled, dead letters, duplicates suppressed,\n"
      "latency). Exits 1 when an order is lost or anything is inconsistent.");
  app.add_option("-s,--server", server, "ferryd URL; default $FERRY_SERVER")->capture_default_str();
  app.add_option("--order-url", o.order_url, "order-service, e.g. http://127.0.0.1:8080")->required();
  app.add_option("--inventory-url", o.inventory_url, "inventory-service's /stats server")->required();
  app.add_option("--notification-url", o.notification_url, "notification-service's /stats server")->required();
  app.add_option("-n,--orders", o.orders, "Orders to post")->check(CLI::Range(1, 1'000'000))->capture_default_str();
  app.add_option("--rate", o.rate, "Orders per second")->check(CLI::Range(1.0, 100'000.0))->capture_default_str();
  app.add_option("--duplicate-every", o.duplicate_every, "Duplicate one order in this many (0: none)")
      ->capture_default_str();
  app.add_option("--poison", o.poison, "Poison messages to publish")->capture_default_str();
  app.add_option("--timeout", timeout_s, "Seconds to wait for the last orders after posting")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  o.timeout = std::chrono::seconds(timeout_s);
  spdlog::set_level(spdlog::level::warn);

  auto b = shop::connect_bus({.url = server, .name = "shop-load"});
  if (!b.is_ok()) {
    std::fprintf(stderr, "shop-load: %s\n", b.status().to_string().c_str());
    return 2;
  }
  shop::load::bus_probe probe(*b);
  std::printf("shop-load: %zu orders at %.0f/s to %s (%zu poison messages, 1 duplicate in %zu)\n", o.orders, o.rate,
              o.order_url.c_str(), o.poison, o.duplicate_every);
  std::fflush(stdout);
  auto report = shop::load::run_load(o, probe);
  if (!report.is_ok()) {
    std::fprintf(stderr, "shop-load: %s\n", report.status().to_string().c_str());
    return 2;
  }
  const bool ok = shop::load::print_summary(*report, stdout);
  b->streams->close();
  b->core->close();
  return ok ? 0 : 1;
}
