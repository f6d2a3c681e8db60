#include "saga.h"

#include <spdlog/spdlog.h>

#include "codec.h"
#include "service.h"

namespace shop {

ferry::outcome stock_saga::handle(ferry::message& m) {
  auto order = read_event<order_created>(m);
  if (order.is_ok() && (order->order_id.empty() || order->items.empty()))
    order = ferry::invalid_argument("order.created without an order id or items");
  if (!order.is_ok()) {
    spdlog::warn("poison order.created (stream seq {}): {}", m.delivery.stream_sequence, order.status().message());
    return ferry::outcome::drop(order.status());
  }
  const std::string& id = order->order_id;
  auto r = store_.reserve(id, order->items);
  if (!r.is_ok()) return r.status();  // the database is busy: try again
  if (r->existed && r->state != reservation_state::reserved) {
    if (ferry::status s = store_.count("duplicates_suppressed"); !s.is_ok())
      spdlog::warn("counting a duplicate: {}", s.to_string());
    spdlog::info("order {} already {}: duplicate delivery, stock untouched, outcome sent again [trace {}]", id,
                 r->state, current_trace_id());
    return decided(*order, *r);
  }
  if (r->state == reservation_state::rejected) {
    spdlog::info("order {}: out of stock, cancelled [trace {}]", id, current_trace_id());
    return decided(*order, *r);
  }
  spdlog::info("order {}: {} {} items, charging {:.2f} [trace {}]", id, r->existed ? "still holding" : "reserved",
               order->items.size(), order->amount, current_trace_id());
  auto reply = charge(*order, m);
  if (!reply.is_ok()) {
    spdlog::warn("order {}: payment failed: {} (stock stays held until a retry decides)", id,
                 reply.status().to_string());
    return reply.status();  // retry: the next attempt finds the reservation and charges again
  }
  auto state = reply->approved ? store_.confirm(id, reply->payment_id) : store_.release(id);
  if (!state.is_ok()) return state.status();
  spdlog::info("order {}: payment {} -> {} [trace {}]", id,
               reply->approved ? "approved" : "declined (" + reply->reason + ")", *state, current_trace_id());
  r->state = *state;
  r->payment_id = reply->payment_id;
  return decided(*order, *r);
}

ferry::result<charge_reply> stock_saga::charge(const order_created& order, const ferry::message& in) {
  ferry::message req = make_event(
      subject::payment_charge,
      charge_request{.order_id = order.order_id, .customer = order.customer, .amount = order.amount}, inventory_source);
  if (std::string tp = ferry::current_traceparent(); !tp.empty())
    req.headers.set(std::string(ferry::header::traceparent), tp);
  if (auto c = in.headers.get(ferry::header::correlation_id))
    req.headers.set(std::string(ferry::header::correlation_id), std::string(*c));
  FERRY_ASSIGN_OR_RETURN(ferry::message rep, payments_.request(std::move(req), payment_timeout_));
  return read_event<charge_reply>(rep);
}

ferry::outcome stock_saga::decided(const order_created& order, const reservation& r) {
  ferry::message out;
  if (r.state == reservation_state::confirmed) {
    out = make_event(subject::order_confirmed,
                     order_confirmed{.order_id = order.order_id, .payment_id = r.payment_id, .amount = order.amount},
                     inventory_source);
  } else if (r.state == reservation_state::released || r.state == reservation_state::rejected) {
    const std::string_view why =
        r.state == reservation_state::rejected ? reason::out_of_stock : reason::payment_declined;
    out = make_event(subject::order_cancelled, order_cancelled{.order_id = order.order_id, .reason = std::string(why)},
                     inventory_source);
  } else {
    return ferry::internal_error("order " + order.order_id + " left in state " + r.state);
  }
  out.key = order.customer;
  return std::vector{std::move(out)};
}

}  // namespace shop
