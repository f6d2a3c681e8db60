// scenario: the orders shop-load sends, and what must become of each one.
//
// The mix is deterministic (by the order's index), so the outcome of every order is known in
// advance from the rules (payment_rules.h and the stock the inventory starts with):
//   - every 10th order (i % 10 == 3) asks for more of `scarce_sku` than exists: out of stock;
//   - i % 10 == 7 comes from the blocked customer, and i % 20 == 9 is over the charge limit:
//     payment declined (the stock taken for them is given back);
//   - i % 40 == 21 comes from the customer whose payment never answers: payment timeout (the
//     saga refunds the charge that may have happened and gives the stock back);
//   - the rest are normal orders of 1 to 3 plentiful skus: confirmed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "events.h"

namespace shop::load {

// Stock the inventory must start with for the expectations to hold (shop-inventory's default).
inline constexpr std::string_view scarce_sku = "sku-gold";

struct planned_order {
  std::size_t index = 0;
  order_request request;
  std::string expected_status;  // "confirmed" or "cancelled"
  std::string expected_reason;  // reason::* when cancelled
  bool duplicate = false;       // re-publish its order.created once it is known
};

// The i-th order of the mix. `duplicate_every`: every that many orders one is duplicated (0: none).
planned_order plan_order(std::size_t i, std::size_t duplicate_every);

// The JSON body of POST /orders for `o`.
std::string order_body(const order_request& o);

}  // namespace shop::load
