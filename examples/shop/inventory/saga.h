// saga: inventory-service's part of the order saga, run for each order.created.
//
//   order.created --> reserve the stock (SQLite, one row per order)
//        | out of stock  --> order.cancelled "out of stock"            (nothing was taken)
//        | reserved      --> payment.charge (request/reply, with a timeout)
//                              | approved --> confirm the reservation --> order.confirmed
//                              | declined --> release the stock (compensation) --> order.cancelled
//                              | no answer --> retry (the stock stays held; the next attempt
//                                              charges again, which payment-service answers the
//                                              same way)
//
// Every step is idempotent, keyed on the order id: a redelivery (the service was killed halfway)
// resumes from the reservation's state, and a duplicate of an order already decided only
// re-emits its outcome (the outcome events have fixed ids, so the broker and the consumers drop
// the copies). A poison order.created (not a CloudEvent, or data that is no order) is dropped,
// which the dead_letter middleware turns into a dead letter with the reason.
//
// Thread safety: handle() may run on several router workers at once.
#pragma once

#include <chrono>
#include <string>

#include "events.h"
#include "ferry/handler.h"
#include "ferry/message.h"
#include "ferry/transport.h"
#include "inventory_store.h"

namespace shop {

class stock_saga {
 public:
  // `store` and `payments` (the transport payment.charge requests go through) must outlive it.
  stock_saga(inventory_store& store, ferry::transport& payments, std::chrono::milliseconds payment_timeout)
      : store_(store), payments_(payments), payment_timeout_(payment_timeout) {}

  // The router handler for order.created.
  ferry::outcome handle(ferry::message& m);

 private:
  // Charges the order's amount; the reply, or why there is none.
  ferry::result<charge_reply> charge(const order_created& order, const ferry::message& in);
  // The outcome event of an order whose reservation is in `state`, addressed like `in`.
  ferry::outcome decided(const order_created& order, const reservation& r);

  inventory_store& store_;
  ferry::transport& payments_;
  const std::chrono::milliseconds payment_timeout_;
};

// The source of the events inventory-service emits.
inline constexpr std::string_view inventory_source = "/shop/inventory";

}  // namespace shop
