// router: binds handlers to subjects, runs them with middleware, publishes what they return and
// settles every message.
//
//   ferry::router r(*transport);
//   r.use(ferry::middleware::recoverer());
//   r.use(ferry::middleware::retry({.max_attempts = 5}));
//   r.add_handler({.name = "reserve", .subject = "order.created", .group = "inventory",
//                  .concurrency = 8, .order = ferry::ordering::per_key},
//                 [](ferry::message& m) -> ferry::outcome {
//                   if (!valid(m)) return ferry::outcome::drop(ferry::invalid_argument("bad order"));
//                   return std::vector{ferry::message("stock.reserved", m.payload)};
//                 });
//   r.start();
//   ...
//   r.stop(std::chrono::seconds(10));   // finishes in-flight work, nacks what it cannot
//
// Threads: each handler has its own `concurrency` worker threads and a bounded queue between the
// transport's delivery callback and them. A full queue blocks the delivery callback (that is the
// back-pressure; the transport's max_in_flight bounds it too). The router never holds a lock while
// it calls a handler, so a handler may publish, add handlers or settle its message itself.
//
// Ordering: ordering::none runs up to `concurrency` messages at once in any order;
// ordering::per_key runs the messages of one key one at a time, in arrival order, and different
// keys in parallel. The key is message.key, else the `Ferry-Key` header; a message without a key
// has no order constraint.
//
// A handler returns an outcome: ack (with messages to publish), retry (now or after a delay:
// the message is nacked), or drop (terminated, and dead-lettered if that middleware is in the
// chain). A handler that returns a non-OK status asks for a retry; one that throws is a retry
// too when the recoverer middleware is used (otherwise the exception reaches the router, which
// logs it and nacks). Output messages are published before the input is acked; if publishing
// fails the input is nacked, so nothing is lost (at-least-once).
//
// Middleware are plain functions from handler to handler (handler.h, middleware.h); router-level
// ones wrap every handler, handler-level ones wrap one, inside the router-level ones; the first
// added runs outermost.
//
// Settlement, after the chain returns (unless the handler already settled the message):
//   ack   -> publish every output (an empty subject goes to publish_subject), then ack; a failed
//            publish nacks instead (outputs already published may be published again);
//   retry -> nack(delay); on a transport without delayed_delivery the worker waits out the delay
//            itself first (the message stays in flight), so a delay is never silently ignored;
//   drop  -> term(reason).
// An exception that escapes the chain is logged and the message nacked.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ferry/handler.h"
#include "ferry/message.h"
#include "ferry/status.h"
#include "ferry/transport.h"

namespace ferry {

enum class ordering : std::uint8_t {
  none,     // up to `concurrency` messages at once, in any order
  per_key,  // one key's messages one at a time, in arrival order; different keys in parallel
};

struct handler_options {
  std::string name;     // for logs, metrics, dead letters; default: the subject
  std::string subject;  // what to subscribe to
  std::string group;    // consumer group (see subscription_options::group)
  // Where an output message with an empty subject goes. Empty: such outputs are an error (the
  // input is nacked and the error logged).
  std::string publish_subject;
  std::size_t concurrency = 1;  // handler calls running at once (worker threads)
  ordering order = ordering::none;
  // Messages received but not yet running, at most; 0: subscription.max_in_flight.
  std::size_t queue_size = 0;
  std::vector<handler_middleware> middleware;  // handler-level, inside the router-level ones
  subscription_options subscription;           // passed to the transport (group above wins)
};

// Counts since the handler was added. received = acked + retried + dropped + in_flight + queued
// once everything settled by the router is counted (a message the handler settled itself is
// counted by how it settled it).
struct handler_stats {
  std::uint64_t received = 0, acked = 0, retried = 0, dropped = 0, published = 0;
  std::uint64_t publish_failures = 0;  // inputs nacked because an output could not be published
  std::uint64_t exceptions = 0;        // exceptions that escaped the chain (logged, nacked)
  std::uint64_t in_flight = 0;         // handler calls running now
  std::uint64_t queued = 0;            // received, waiting for a worker
};

class router {
 public:
  // Subscribes on `in`; publishes outputs on `out` (default: `in`). Both must outlive the router.
  explicit router(transport& in, publisher* out = nullptr);
  // stop() with the default grace, then waits for any handler still running (a handler that never
  // returns blocks here: C++ cannot cancel a thread).
  ~router();
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  // Router-level middleware. REQUIRES: start() not called yet.
  router& use(handler_middleware m);
  // Adds a handler; before or after start() (then it starts at once). May be called from a
  // handler. invalid_argument for an empty subject or zero concurrency, already_exists for a
  // name in use, failed_precondition after stop(); the transport's error if subscribing fails.
  status add_handler(handler_options options, handler h);
  // Subscribes every handler and starts its workers. Fails (and subscribes nothing) if one
  // subscription fails. failed_precondition if already started or stopped.
  status start();
  // Stops taking new messages, nacks messages that were received but not started, lets running
  // handlers finish for up to `grace` and then nacks the messages of those still running (their
  // outputs are discarded when they return), and unsubscribes. The handlers' subscriptions stop
  // side by side (a thread each), so a transport whose stop waits for a read in progress (Redis
  // without CLIENT UNBLOCK, up to its `block`) waits once, not once per handler. Returns after about `grace` at most.
  // Idempotent. Must not be called from a handler.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(30));
  [[nodiscard]] bool running() const;
  // Counts for the named handler; zeros for an unknown name.
  [[nodiscard]] handler_stats stats(const std::string& handler_name) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry
