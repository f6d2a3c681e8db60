// handler: what a router runs for each message (a function from message to outcome), and
// middleware, which wraps a handler in another.
//
//   ferry::handler h = [](ferry::message& m) -> ferry::outcome {
//     if (m.payload.empty()) return ferry::outcome::drop(ferry::invalid_argument("empty order"));
//     if (!db_up()) return ferry::outcome::retry(ferry::unavailable("db"), std::chrono::seconds(1));
//     return std::vector{ferry::message("order.accepted", m.payload)};   // ack, publish this first
//   };
//
// An outcome is one of three decisions: ack (with messages to publish first), retry (nack, so the
// transport delivers it again, after a delay if given) or drop (terminate: never again; the
// dead_letter middleware routes it to a dead-letter subject). A non-OK status converts to retry,
// an OK status or a vector of messages to ack.
//
// Middleware sees the handler it wraps and a handler_info describing it (name, subject, the
// transport's capabilities, a stop token). Most middleware only needs the handler:
//
//   ferry::handler_middleware log_slow = [](ferry::handler next) -> ferry::handler {
//     return [next = std::move(next)](ferry::message& m) { return next(m); };
//   };
//
// compose() builds the chain; the first middleware in the list runs outermost. A middleware
// function is called once per handler it wraps (when the router builds the chain), the handler it
// returns once per message, on a router worker thread, possibly several at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
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
  [[nodiscard]] bool is_retry() const { return kind_ == kind::retry; }
  [[nodiscard]] bool is_drop() const { return kind_ == kind::drop; }
  // Why it was not acked (OK for an ack).
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

// "ack", "retry" or "drop".
std::string_view to_string(outcome::kind k);

// Called on a router worker thread with the delivered message. Must not settle the message
// itself unless it means to (the router settles it from the outcome otherwise).
using handler = std::function<outcome(message&)>;

// What a middleware knows about the handler it wraps: one per handler, made by the router (or by
// whoever calls compose()), alive as long as the composed handler.
struct handler_info {
  std::string name;     // the handler's name (logs, metrics, dead letters)
  std::string subject;  // what it subscribes to
  std::string group;    // its consumer group, if any
  capabilities caps;    // of the transport it consumes from
  // Requested when the router stops: middleware that waits (retry backoff, throttle) ends its wait
  // early and lets the message be nacked.
  std::stop_token stop;

  // Set while the chain is built, read while it runs; they let retry and dead_letter agree
  // whatever their order (see middleware.h, "Retry ownership").
  //
  // Set by middleware::dead_letter: sends the message to the dead-letter subject and returns the
  // outcome that replaces the drop (ack, or retry when that publish failed).
  std::function<outcome(message&, const status& why)> dead_letter;
  // Set by middleware::retry: it alone decides whether a failed message is tried again.
  bool retry_owned = false;
};

// A function from handler to handler. Built from either `handler(handler next)` or
// `handler(handler next, handler_info& info)` callables.
class handler_middleware {
 public:
  using function = std::function<handler(handler next, handler_info& info)>;

  template <class F>
  requires std::is_invocable_r_v<handler, F&, handler, handler_info&> handler_middleware(F f)
      : fn_(std::move(f)) {}  // NOLINT(google-explicit-constructor)
  template <class F>
  requires(std::is_invocable_r_v<handler, F&, handler> && !std::is_invocable_r_v<handler, F&, handler, handler_info&>)
      handler_middleware(F f)  // NOLINT(google-explicit-constructor)
      : fn_([f = std::move(f)](handler next, handler_info&) mutable { return f(std::move(next)); }) {}

  // Wraps `next`. `info` must outlive the handler returned.
  [[nodiscard]] handler wrap(handler next, handler_info& info) const { return fn_(std::move(next), info); }

 private:
  function fn_;
};

// Wraps `h` in `chain`, the first element outermost. `info` must outlive the result.
[[nodiscard]] handler compose(handler h, const std::vector<handler_middleware>& chain, handler_info& info);

}  // namespace ferry
