#include "api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "codec.h"
#include "http_server.h"

namespace shop {

namespace {

void create_order(const httplib::Request& req, httplib::Response& res, order_store& store, ferry::publisher& out,
                  ferry::tracer& tracer) {
  order_request body;
  if (std::string bad = parse_order_request(req.body, body); !bad.empty()) {
    return reply_json(res, 400, {{"error", bad}});
  }
  order_record o{.id = ferry::new_id(),
                 .customer = body.customer,
                 .items = body.items,
                 .amount = body.amount,
                 .status = std::string(order_status::pending),
                 .created_at = now_rfc3339()};
  if (ferry::status s = store.insert(o); !s.is_ok()) {
    spdlog::error("storing order {}: {}", o.id, s.to_string());
    return reply_json(res, 500, {{"error", "could not store the order"}});
  }
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
  ferry::status published = out.publish(std::move(m));
  span.outcome = published.is_ok() ? "ack" : "retry";
  span.error = published;
  tracer.finish(std::move(span));
  if (!published.is_ok()) {
    spdlog::error("publishing order.created for {}: {}", o.id, published.to_string());
    if (ferry::status s = store.remove(o.id); !s.is_ok()) spdlog::error("forgetting order {}: {}", o.id, s.to_string());
    return reply_json(res, 503, {{"error", "could not publish the order, try again"}});
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

void install_order_api(httplib::Server& http, order_store& store, ferry::publisher& out, ferry::tracer& tracer) {
  http.Post("/orders", [&store, &out, &tracer](const httplib::Request& req, httplib::Response& res) {
    create_order(req, res, store, out, tracer);
  });
  http.Get(R"(/orders/([A-Za-z0-9_.-]{1,64}))",
           [&store](const httplib::Request& req, httplib::Response& res) { get_order(req, res, store); });
}

}  // namespace shop
