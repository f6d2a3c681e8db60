// api: order-service's HTTP API.
//
//   POST /orders       {"customer": "ann", "items": [{"sku": "sku-book", "qty": 2}], "amount": 25.5}
//                      -> 201 {"id", "status": "pending", "trace_id"}; 400 {"error"} for bad input;
//                         503 {"error"} when order.created could not be published (nothing stored)
//   GET /orders/{id}   -> 200 the order (status pending, confirmed or cancelled with a reason);
//                         404 {"error"}
//
// POST stores the order as pending, then publishes order.created (a CloudEvent whose id is the
// order id, so the broker stores a retried publish once) with a new trace's traceparent.
//
// Thread safety: handlers run on httplib's pool threads; the store and the publisher are
// thread-safe.
#pragma once

#include "ferry/tracing.h"
#include "ferry/transport.h"
#include "order_store.h"

namespace httplib {
class Server;
}

namespace shop {

// Adds the routes above to `http`. `store`, `out` and `tracer` must outlive the server.
void install_order_api(httplib::Server& http, order_store& store, ferry::publisher& out, ferry::tracer& tracer);

}  // namespace shop
