#include "scenario.h"

#include <nlohmann/json.hpp>

#include "payment_rules.h"

namespace shop::load {

namespace {

constexpr const char* plentiful_skus[] = {"sku-book", "sku-pen", "sku-mug"};

}  // namespace

planned_order plan_order(std::size_t i, std::size_t duplicate_every) {
  planned_order p;
  p.index = i;
  order_request& r = p.request;
  r.customer = "customer-" + std::to_string(i % 17);
  const std::size_t lines = 1 + i % 3;
  for (std::size_t k = 0; k < lines; ++k) {
    r.items.push_back({plentiful_skus[(i + k) % 3], static_cast<int>(1 + (i + k) % 3)});
  }
  r.amount = static_cast<double>(10 + (i * 37) % 490);
  p.expected_status = "confirmed";
  if (i % 10 == 3) {
    r.items.push_back({std::string(scarce_sku), 1000});
    p.expected_status = "cancelled";
    p.expected_reason = reason::out_of_stock;
  } else if (i % 10 == 7) {
    r.customer = std::string(blocked_customer);
    p.expected_status = "cancelled";
    p.expected_reason = reason::payment_declined;
  } else if (i % 40 == 21) {
    r.customer = std::string(stalled_customer);
    p.expected_status = "cancelled";
    p.expected_reason = reason::payment_timeout;
  } else if (i % 20 == 9) {
    r.amount = max_charge + 500;
    p.expected_status = "cancelled";
    p.expected_reason = reason::payment_declined;
  }
  p.duplicate = duplicate_every != 0 && i % duplicate_every == duplicate_every / 2;
  return p;
}

std::string order_body(const order_request& o) {
  return nlohmann::json{{"customer", o.customer}, {"items", o.items}, {"amount", o.amount}}.dump();
}

}  // namespace shop::load
