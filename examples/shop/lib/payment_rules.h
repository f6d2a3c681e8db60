// payment_rules: how payment-service decides a charge. Deterministic, so that the demo and the
// end-to-end test know each order's outcome in advance.
#pragma once

#include <string_view>

#include "events.h"

namespace shop {

// Charges above this are declined.
inline constexpr double max_charge = 1000.0;
// This customer's card is always declined.
inline constexpr std::string_view blocked_customer = "mallory";
// This customer's payment provider never answers: payment-service leaves its charges unanswered,
// and the order saga's payment timeout cancels the order (refund, then release of the stock).
inline constexpr std::string_view stalled_customer = "sloth";

// Declined when amount > max_charge ("amount over limit") or the customer is blocked ("card
// declined"); approved otherwise, with payment id "pay-<order id>" (the same for a repeated
// request, so a retried charge is not a second charge).
charge_reply decide_charge(const charge_request& r);

}  // namespace shop
