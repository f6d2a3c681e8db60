// count_skipped: a middleware wrapper that notices when the middleware it wraps answers a message
// without letting it reach the handler, e.g. the dedup middleware acking a duplicate.
//
//   r.add_handler({..., .middleware = {shop::count_skipped(ferry::middleware::dedup(store),
//                                                          [&](const ferry::message&) { ++duplicates; })}}, handle);
#pragma once

#include <functional>

#include "ferry/handler.h"

namespace shop {

// Wraps `inner`; calls `on_skipped` with the message (on the worker thread) for each message
// `inner` acks without calling the handler behind it. `on_skipped` must be thread-safe and must
// not throw.
ferry::handler_middleware count_skipped(ferry::handler_middleware inner,
                                        std::function<void(const ferry::message&)> on_skipped);

}  // namespace shop
