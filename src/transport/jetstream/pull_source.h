// pull_source: subscriptions on JetStream subjects: a pull consumer (durable and shared for a
// group, ephemeral otherwise; see include/ferry/jetstream.h) read by a delivery_loop, and the
// settler that turns ack/nack/term/in_progress into JetStream acknowledgements.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>

#include "ferry/jetstream.h"
#include "ferry/transport.h"
#include "transport/jetstream/streams.h"
#include "transport/nats/client.h"
#include "transport/nats/delivery_loop.h"

namespace ferry::jetstream::detail {

// A JetStream context and the connection it lives on (kept alive together).
struct js_context {
  std::shared_ptr<nats::detail::client> client;
  jsCtx* js = nullptr;
  ~js_context() { jsCtx_Destroy(js); }
};

// Subscribes `subject` of `stream` as the header describes; the loop is registered in `loops`.
result<std::unique_ptr<subscription>> subscribe_pull(const std::shared_ptr<js_context>& ctx, const options& o,
                                                     const bound_stream& stream, std::string subject,
                                                     const subscription_options& so, delivery_callback cb,
                                                     nats::detail::loop_registry& loops);

}  // namespace ferry::jetstream::detail
