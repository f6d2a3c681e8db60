// api: order-service's HTTP API.
//
//   POST /orders       {"customer": "ann", "items": [{"sku": "sku-book", "qty": 2}], "amount": 25.5}
//                      -> 201 {"id", "status": "pending", "trace_id"}; 400 {"error"} for bad input;
//                         503 {"error"} when the database refused the order (nothing stored)
//                      With an Idempotency-Key header (1 to 64 of [A-Za-z0-9_.-]), the key is the
//                      order's id: a POST retried with the same key (the client saw no answer)
//                      returns 200 and the order already stored, never a second order.
//   GET /orders/{id}   -> 200 the order (status pending, confirmed or cancelled with a reason);
//                         404 {"error"}
//
// POST writes the order (pending) and its order.created (a CloudEvent whose id is the order id,
// with a new trace's traceparent) in one transaction, the event through the outbox: once the
// client has its 201, the event reaches the broker even if the service dies the next instant.
//
// Thread safety: handlers run on httplib's pool threads; the database, the store and the outbox
// are thread-safe.
#pragma once

#include "ferry/outbox.h"
#include "ferry/sql.h"
#include "ferry/tracing.h"
#include "order_store.h"

namespace httplib {
class Server;
}

namespace shop {

// Adds the routes above to `http`. Everything given must outlive the server.
void install_order_api(httplib::Server& http, ferry::sql::database& db, order_store& store, const ferry::outbox& box,
                       ferry::tracer& tracer);

}  // namespace shop
