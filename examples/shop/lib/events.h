// events: what the shop's services tell each other, as plain structs with their JSON form
// (nlohmann to_json/from_json), and where each travels.
//
//   order.created     order-service -> inventory-service, through order-service's outbox (stream ORDERS)
//   payment.charge    inventory-service's order saga -> payment-service, a saga command (stream PAYMENTS)
//   payment.refund    the compensation of a charge that timed out (stream PAYMENTS)
//   payment.charge.grpc  instead of payment.charge with inventory-service --payment-grpc: taken by
//                     inventory-service itself, which calls payment-service's Charge over gRPC
//   saga.order.reply  payment-service -> the order saga (stream SAGAS)
//   order.confirmed   inventory-service -> order-, notification-service (stream ORDERS)
//   order.cancelled   inventory-service -> order-, notification-service (stream ORDERS)
//   dlq.<service>     poison messages, with their reason            (stream DLQ)
//
// Each event travels as a CloudEvent (event.h) whose `type` is the constant beside the struct and
// whose `id` identifies the business fact: the order id for order.created (so a re-published copy
// is recognised as a duplicate whatever its Nats-Msg-Id), "<order id>.confirmed" and
// "<order id>.cancelled" for the outcomes (an order has one outcome, however often it is sent).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace shop {

// Subjects and streams.
namespace subject {
inline constexpr std::string_view order_created = "order.created";
inline constexpr std::string_view order_confirmed = "order.confirmed";
inline constexpr std::string_view order_cancelled = "order.cancelled";
inline constexpr std::string_view payment_charge = "payment.charge";
inline constexpr std::string_view payment_refund = "payment.refund";
// The charge command when inventory-service charges over gRPC (--payment-grpc): inventory's own
// handler takes it and calls payment-service's Charge (stream PAYMENTS).
inline constexpr std::string_view payment_charge_grpc = "payment.charge.grpc";
inline constexpr std::string_view saga_reply = "saga.order.reply";
inline constexpr std::string_view dlq_prefix = "dlq.";  // + the service's name
}  // namespace subject
namespace stream {
inline constexpr std::string_view orders = "ORDERS";      // order.>
inline constexpr std::string_view dlq = "DLQ";            // dlq.>
inline constexpr std::string_view payments = "PAYMENTS";  // payment.>
inline constexpr std::string_view sagas = "SAGAS";        // saga.>
}  // namespace stream

// Cancellation reasons (what GET /orders/{id} shows).
namespace reason {
inline constexpr std::string_view out_of_stock = "out of stock";
inline constexpr std::string_view payment_declined = "payment declined";
inline constexpr std::string_view payment_timeout = "payment timeout";
}  // namespace reason

struct line_item {
  std::string sku;
  int qty = 0;
  friend bool operator==(const line_item&, const line_item&) = default;
};

struct order_created {
  static constexpr std::string_view type = "shop.order.created.v1";
  std::string order_id;
  std::string customer;
  std::vector<line_item> items;
  double amount = 0;
  std::string created_at;  // RFC 3339
};

struct order_confirmed {
  static constexpr std::string_view type = "shop.order.confirmed.v1";
  std::string order_id;
  std::string payment_id;
  double amount = 0;
};

struct order_cancelled {
  static constexpr std::string_view type = "shop.order.cancelled.v1";
  std::string order_id;
  std::string reason;  // reason::out_of_stock, reason::payment_declined, reason::payment_timeout
};

// payment.charge (and payment.refund) command and the charge's reply (the payload of the saga reply).
struct charge_request {
  static constexpr std::string_view type = "shop.payment.charge.v1";
  std::string order_id;
  std::string customer;
  double amount = 0;
};

struct charge_reply {
  static constexpr std::string_view type = "shop.payment.charged.v1";
  std::string order_id;
  bool approved = false;
  std::string payment_id;  // when approved
  std::string reason;      // when declined
};

void to_json(nlohmann::json& j, const line_item& v);
void from_json(const nlohmann::json& j, line_item& v);
void to_json(nlohmann::json& j, const order_created& v);
void from_json(const nlohmann::json& j, order_created& v);
void to_json(nlohmann::json& j, const order_confirmed& v);
void from_json(const nlohmann::json& j, order_confirmed& v);
void to_json(nlohmann::json& j, const order_cancelled& v);
void from_json(const nlohmann::json& j, order_cancelled& v);
void to_json(nlohmann::json& j, const charge_request& v);
void from_json(const nlohmann::json& j, charge_request& v);
void to_json(nlohmann::json& j, const charge_reply& v);
void from_json(const nlohmann::json& j, charge_reply& v);

// The CloudEvent id of each event (see the file comment).
std::string event_id(const order_created& e);
std::string event_id(const order_confirmed& e);
std::string event_id(const order_cancelled& e);

// The order a client sends to POST /orders: {customer, items: [{sku, qty}], amount}.
struct order_request {
  std::string customer;
  std::vector<line_item> items;
  double amount = 0;
};

// Parses and validates a POST /orders body. Returns an empty string and fills `out` when the
// body is a valid order, else a one-line reason for the client ("items[2].qty must be ...").
std::string parse_order_request(std::string_view body, order_request& out);

// The current time as RFC 3339 with milliseconds, UTC ("2024-05-01T12:00:00.123Z").
std::string now_rfc3339();

}  // namespace shop
