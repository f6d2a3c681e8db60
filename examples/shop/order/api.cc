#include "api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <regex>

#include "codec.h"
#include "http_server.h"

namespace shop {

namespace {

bool valid_key(const std::string& k) {
  static const std::regex re("[A-Za-z0-9_.-]{1,64}");
  return std::regex_match(k, re);
}

void create_order(const httplib::Request& req, httplib::Response& res, ferry::sql::database& db, order_store& store,
                  const ferry::outbox& box, ferry::tracer& tracer) {
  order_request body;
  if (std::string bad = parse_order_request(req.body, body); !bad.empty()) {
    return reply_json(res, 400, {{"error", bad}});
  }
  const std::string key = req.get_header_value("Idempotency-Key");
  if (!key.empty() && !valid_key(key)) {
    return reply_json(res, 400, {{"error", "Idempotency-Key must be 1 to 64 of A-Z a-z 0-9 _ . -"}});
  }
  order_record o{.id = key.empty() ? ferry::new_id() : key,
                 .customer = body.customer,
                 .items = body.items,
                 .amount = body.amount,
                 .status = std::string(order_status::pending),
                 .created_at = now_rfc3339()};
  ferry::span span = tracer.start("POST /orders", nullptr);
  const std::string trace_id = span.trace_id.to_hex();
  ferry::message m = make_event(
      subject::order_created,
      order_created{
          .order_id = o.id, .customer = o.customer, .items = o.items, .amount = o.amount, .created_at = o.created_at},
      "/shop/order");
  m.key = o.customer;  // one customer's orders are handled in order
  m.headers.set(std::string(ferry::header::traceparent),
                ferry::format_traceparent({.trace_id = span.trace_id, .span_id = span.span_id}));
  m.headers.set(std::string(ferry::header::correlation_id), o.id);
  std::optional<order_record> existing;
  ferry::status stored = db.in_transaction([&](ferry::sql::transaction& tx) -> ferry::status {
    if (!key.empty()) {
      FERRY_ASSIGN_OR_RETURN(existing, store.find(tx, o.id));
      if (existing) return ferry::status::ok();  // a retried POST: nothing new to write
    }
    FERRY_RETURN_IF_ERROR(store.insert(tx, o));
    return box.add(tx, std::move(m));  // order.created leaves with the order, or not at all
  });
  span.outcome = stored.is_ok() ? "ack" : "retry";
  span.error = stored;
  tracer.finish(std::move(span));
  if (!stored.is_ok()) {
    spdlog::error("storing order {}: {}", o.id, stored.to_string());
    return reply_json(res, 503, {{"error", "could not store the order, try again"}});
  }
  if (existing) {
    spdlog::info("order {}: POST retried with its Idempotency-Key, the stored order returned", o.id);
    res.set_header("Location", "/orders/" + o.id);
    return reply_json(res, 200, nlohmann::json(*existing));
  }
  spdlog::info("order {} created for {}: {} items, amount {:.2f} [trace {}]", o.id, o.customer, o.items.size(),
               o.amount, trace_id);
  res.set_header("Location", "/orders/" + o.id);
  reply_json(res, 201, {{"id", o.id}, {"status", o.status}, {"trace_id", trace_id}});
}

void get_order(const httplib::Request& req, httplib::Response& res, order_store& store) {
  const std::string id = req.matches[1];
  auto o = store.find(id);
  if (!o.is_ok()) {
    spdlog::error("reading order {}: {}", id, o.status().to_string());
    return reply_json(res, 500, {{"error", "could not read the order"}});
  }
  if (!o->has_value()) return reply_json(res, 404, {{"error", "no order " + id}});
  reply_json(res, 200, nlohmann::json(**o));
}

}  // namespace

void install_order_api(httplib::Server& http, ferry::sql::database& db, order_store& store, const ferry::outbox& box,
                       ferry::tracer& tracer) {
  http.Post("/orders", [&db, &store, &box, &tracer](const httplib::Request& req, httplib::Response& res) {
    create_order(req, res, db, store, box, tracer);
  });
  http.Get(R"(/orders/([A-Za-z0-9_.-]{1,64}))",
           [&store](const httplib::Request& req, httplib::Response& res) { get_order(req, res, store); });
}

}  // namespace shop
