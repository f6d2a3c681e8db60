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
// A handler returns an outcome: ack (with messages to publish), retry (now or after a delay:
// the message is nacked), or drop (terminated, and dead-lettered if that middleware is in the
// chain). A handler that returns a non-OK status asks for a retry; one that throws is a retry
// too when the recoverer middleware is used (otherwise the exception reaches the router, which
// logs it and nacks). Output messages are published before the input is acked; if publishing
// fails the input is nacked, so nothing is lost (at-least-once).
//
// Middleware are plain functions from handler to handler; router-level ones wrap every
// handler, handler-level ones wrap one; the first added runs outermost.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ferry/message.h"
#include "ferry/status.h"
#include "ferry/transport.h"

namespace ferry {

class outcome {
 public:
  enum class kind : std::uint8_t { ack, retry, drop };

  // Ack; publish `out` first.
  static outcome ack(std::vector<message> out = {}) { return outcome(kind::ack, {}, {}, std::move(out)); }
  // Nack so that the message is delivered again, after `delay` when non-zero.
  static outcome retry(status why, std::chrono::milliseconds delay = {}) {
    return outcome(kind::retry, std::move(why), delay, {});
  }
  // Never deliver again (terminate); dead-letter middleware sends it to the dead-letter subject.
  static outcome drop(status why) { return outcome(kind::drop, std::move(why), {}, {}); }

  // Conveniences: OK status = ack; other status = retry; a vector = ack and publish it.
  outcome(status s)  // NOLINT(google-explicit-constructor)
      : outcome(s.is_ok() ? kind::ack : kind::retry, std::move(s), {}, {}) {}
  outcome(std::vector<message> out)  // NOLINT(google-explicit-constructor)
      : outcome(kind::ack, {}, {}, std::move(out)) {}

  [[nodiscard]] kind what() const { return kind_; }
  [[nodiscard]] bool is_ack() const { return kind_ == kind::ack; }
  [[nodiscard]] const status& why() const { return why_; }
  [[nodiscard]] std::chrono::milliseconds delay() const { return delay_; }
  [[nodiscard]] std::vector<message>& messages() { return out_; }
  [[nodiscard]] const std::vector<message>& messages() const { return out_; }

 private:
  outcome(kind k, status why, std::chrono::milliseconds delay, std::vector<message> out)
      : kind_(k), why_(std::move(why)), delay_(delay), out_(std::move(out)) {}
  kind kind_;
  status why_;
  std::chrono::milliseconds delay_{};
  std::vector<message> out_;
};

// Called on a router worker thread with the delivered message. Must not settle the message
// itself unless it means to (the router settles it from the outcome otherwise).
using handler = std::function<outcome(message&)>;
using middleware = std::function<handler(handler next)>;

enum class ordering : std::uint8_t {
  none,     // up to `concurrency` messages at once, in any order
  per_key,  // one key's messages one at a time, in arrival order; different keys in parallel
};

struct handler_options {
  std::string name;     // for logs, metrics, dead letters; default: the subject
  std::string subject;  // what to subscribe to
  std::string group;    // consumer group (see subscription_options::group)
  // Where an output message with an empty subject goes. Empty: such outputs are an error.
  std::string publish_subject;
  std::size_t concurrency = 1;  // handler calls running at once
  ordering order = ordering::none;
  std::vector<middleware> middleware;  // handler-level, inside the router-level ones
  subscription_options subscription;   // passed to the transport (group above wins)
};

struct handler_stats {
  std::uint64_t received = 0, acked = 0, retried = 0, dropped = 0, published = 0;
};

class router {
 public:
  // Subscribes on `in`; publishes outputs on `out` (default: `in`). Both must outlive the router.
  explicit router(transport& in, publisher* out = nullptr);
  ~router();  // stop() with the default grace
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  // Router-level middleware; call before start().
  router& use(middleware m);
  // Adds a handler; before or after start() (then it starts at once).
  status add_handler(handler_options options, handler h);
  // Subscribes every handler. Fails (and subscribes nothing) if one subscription fails.
  status start();
  // Stops taking new messages, lets running handlers finish for up to `grace`, nacks messages
  // that were received but not started, and unsubscribes. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(30));
  [[nodiscard]] bool running() const;
  [[nodiscard]] handler_stats stats(const std::string& handler_name) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry
