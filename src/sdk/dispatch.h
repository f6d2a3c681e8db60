// dispatch: runs a composed handler on one message and settles it from the outcome (publish the
// outputs, then ack; or nack, or term), counting what happened. The router's workers call it; so
// does router_bench, to measure the chain without threads or a transport.
#pragma once

#include <atomic>
#include <cstdint>
#include <stop_token>
#include <string>

#include "ferry/handler.h"
#include "ferry/router.h"
#include "ferry/transport.h"

namespace ferry::detail {

// One handler's counts; each field is updated atomically (relaxed: they are statistics).
struct handler_counters {
  std::atomic<std::uint64_t> received{0}, acked{0}, retried{0}, dropped{0}, published{0};
  std::atomic<std::uint64_t> publish_failures{0}, exceptions{0};

  // Counts one settlement.
  void count(settlement s);
};

// What dispatch() needs besides the message: fixed per handler, read-only while workers run.
struct dispatch_env {
  const std::string* name = nullptr;             // for logs
  publisher* out = nullptr;                      // where outputs go
  const std::string* publish_subject = nullptr;  // for outputs without a subject; may be empty
  bool delayed_delivery = false;                 // the input transport honours nack(delay)
  std::stop_token stop;                          // ends the delay fallback early
  handler_counters* counters = nullptr;
};

// Runs `chain` on `m`, then settles `m` (see router.h, "Settlement"). When `abandoned` becomes
// true while the chain runs (router stop after its grace, which nacked `m` already), the outcome
// and its outputs are discarded. Exceptions from the chain are logged and nack the message.
void dispatch(message& m, const handler& chain, const dispatch_env& env, const std::atomic<bool>* abandoned = nullptr);

// Publishes the outputs of `o` (empty subjects go to env.publish_subject), then settles `m` from
// `o` and counts it. `abandoned`: as for dispatch().
void settle(message& m, outcome& o, const dispatch_env& env, const std::atomic<bool>* abandoned = nullptr);

}  // namespace ferry::detail
