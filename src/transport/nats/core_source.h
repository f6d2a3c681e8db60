// core_source: a delivery_loop source over a synchronous NATS core subscription. Shared by the
// nats transport and by the JetStream transport for subjects outside its streams.
#pragma once

#include <memory>
#include <string>

#include "ferry/transport.h"
#include "transport/nats/client.h"
#include "transport/nats/delivery_loop.h"

namespace ferry::nats::detail {

// Subscribes `subject` (queue group `group` when non-empty) and returns the running
// subscription (registered in `loops`). `transport_name` goes into delivery_info::transport.
result<std::unique_ptr<subscription>> subscribe_core(const std::shared_ptr<client>& c, std::string_view transport_name,
                                                     std::string subject, const subscription_options& o,
                                                     delivery_callback cb, loop_registry& loops);

}  // namespace ferry::nats::detail
