// host: what JetStream needs from the server around it, and the clock it reads.
//
// JetStream (this library) publishes replies, deliveries and advisories, asks whether anyone
// listens on a subject, subscribes its own handlers (the API, acks, stream subjects) and defers
// work to the end of the calling worker's round. ferryd's core implements `host`
// (broker/core.h); unit tests implement it with a small in-memory router and a fake clock.
//
// `worker` is opaque here: the I/O thread that is calling, or nullptr off the workers (timers,
// tests). With nullptr, work that would wait for the end of the round runs at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker/subscription.h"
#include "protocol/parser.h"

namespace ferry::broker::js {

// A handler for an internal subscription; returns whether the message found a receiver.
using internal_handler = std::function<bool(const protocol::pub_frame&, worker*)>;

class host {
 public:
  virtual ~host() = default;
  // Delivers a message the server makes (API replies, acknowledgements, consumer deliveries,
  // advisories) as if a client had published it. Returns the number of deliveries.
  // Thread-safe; REQUIRES: no stream lock held unless `o.clients_only`.
  virtual std::size_t publish(worker* w, std::string_view subject, std::string_view reply, std::string_view headers,
                              std::string_view data, const route_options& o = {}, bool empty_reply_field = false) = 0;
  // Whether any subscription (client or internal) matches `subject`.
  virtual bool has_interest(std::string_view subject) = 0;
  // Subscribes `fn` to `subject` (wildcards allowed) as an internal subscriber.
  virtual subscription_ptr subscribe(const std::string& subject, internal_handler fn) = 0;
  virtual void unsubscribe(const subscription_ptr& s) = 0;
  // Runs `t` at the end of worker `w`'s current round, before its output is flushed.
  // REQUIRES: `w` is the calling worker.
  virtual void at_round_end(worker& w, std::shared_ptr<round_task> t) = 0;
  // The worker whose thread is calling, or nullptr.
  virtual worker* current_worker() = 0;
};

// Time as JetStream reads it: the wall clock for what users see (message timestamps, created,
// advisories, max_age, the dedup window), the steady clock for deadlines (ack wait, redelivery,
// pull expiry, heartbeats, inactivity), so that a stepped system clock moves no deadline.
class clock {
 public:
  virtual ~clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual std::int64_t wall_ns() = 0;
  // Nanoseconds on a monotonic clock with an arbitrary origin.
  virtual std::int64_t steady_ns() = 0;
  // The system's clocks.
  static clock& system();
};

}  // namespace ferry::broker::js
