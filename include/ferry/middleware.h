// middleware: the standard wrappers around handlers. Each function returns a handler_middleware
// for router::use() (every handler) or handler_options::middleware (one handler).
//
//   r.use(ferry::middleware::correlation_id());
//   r.use(ferry::middleware::tracing(tracer));
//   r.use(ferry::middleware::metrics(registry));
//   r.use(ferry::middleware::dead_letter(transport, "dlq.orders"));
//   r.use(ferry::middleware::dedup(store));
//   r.use(ferry::middleware::retry({.max_attempts = 5, .initial_interval = 100ms}));
//   r.use(ferry::middleware::circuit_breaker({.failure_threshold = 10}));
//   r.use(ferry::middleware::timeout(2s));
//   r.use(ferry::middleware::recoverer());
//
// The first added runs outermost. The order above is the recommended one: correlation and
// tracing see everything (retries and dead letters included), metrics count one outcome per
// delivery, duplicates stop before anything is retried, retry sees every failure (timeouts,
// open breaker, exceptions turned into retries by the recoverer, which goes innermost).
//
// Retry ownership (the rule that keeps retries from multiplying):
//   * The retry middleware alone decides whether a failed message is tried again; every retry
//     counts against one budget, max_attempts, whether it happened in this process (a sleep on the
//     worker) or as a transport redelivery (message.delivery.delivery_count - 1 attempts were made
//     before this delivery).
//   * Once the budget is spent (or should_retry says no, or max_elapsed would pass), the outcome
//     becomes a drop: the message is terminated, never redelivered, and handed to the dead-letter
//     middleware if there is one: retry calls it directly, so exactly one dead letter is written
//     whatever the order of the two middleware.
//   * Without a retry middleware, dead_letter's max_deliveries bounds transport redeliveries:
//     a retry outcome at delivery_count >= max_deliveries is dead-lettered instead of nacked.
//
// Stateful middleware (circuit_breaker, throttle) keep one state per call of their function: used
// router-wide it is shared by every handler; call it once per handler for one state each.
// Every middleware here is thread-safe (workers of one handler run its chain at once); the hooks
// and key functions you give them may be called from several workers at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ferry/handler.h"
#include "ferry/message.h"
#include "ferry/status.h"
#include "ferry/transport.h"

namespace ferry {

class dedup_store;
class metrics_registry;
class tracer;

namespace middleware {

// ---------------------------------------------------------------------------------------------
// retry

enum class jitter : std::uint8_t {
  none,          // exactly the exponential backoff
  full,          // uniform in [0, backoff]
  decorrelated,  // uniform in [initial_interval, 3 x the previous delay], capped at max_interval
};

enum class retry_mode : std::uint8_t {
  // Retries on the worker: sleeps the backoff (ended early by a router stop, which nacks), then
  // calls the handler again. Works on every transport; holds a worker (and, per_key, the key).
  in_process,
  // Returns outcome::retry(why, backoff) at once: the transport redelivers after the delay. Needs
  // the redelivery and delivery_count capabilities (without them retry runs in_process, and says
  // so in the log once); without delayed_delivery the router waits out the delay itself.
  redeliver,
};

struct retry_policy {
  // Handler attempts in all, the first included, counting transport redeliveries. 0: no limit
  // (set max_elapsed then, or a poison message is retried forever).
  std::uint32_t max_attempts = 5;
  std::chrono::milliseconds initial_interval{100};  // backoff before the first retry
  double multiplier = 2.0;                          // backoff growth per retry
  std::chrono::milliseconds max_interval{10'000};   // backoff cap
  middleware::jitter jitter = middleware::jitter::full;
  // Time budget: no retry whose backoff would end later than this after the first attempt of
  // the delivery (in_process) or after the message was published (redeliver, when the transport
  // reports delivery.published). 0: none.
  std::chrono::milliseconds max_elapsed{0};
  retry_mode mode = retry_mode::in_process;
  // Which failures are worth retrying; empty: all. A failure it rejects is dropped at once.
  std::function<bool(const status&)> should_retry;
  // Called before each retry with the failed attempt's number and the delay chosen.
  std::function<void(const message&, const status& why, std::uint64_t attempt, std::chrono::milliseconds delay)>
      on_retry;
  // Called once when retries are exhausted, before the message is dropped (dead-lettered).
  std::function<void(const message&, const status& why, std::uint64_t attempts)> on_exhausted;

  // The delay before retry number `retry` (1: the first). `previous`: the delay before the
  // previous retry (decorrelated jitter; zero: unknown). `random01`: uniform in [0, 1].
  [[nodiscard]] std::chrono::milliseconds backoff(std::uint64_t retry, std::chrono::milliseconds previous,
                                                  double random01) const;
};

handler_middleware retry(retry_policy policy = {});

// ---------------------------------------------------------------------------------------------
// dead_letter

struct dead_letter_options {
  // Also dead-letter a retry outcome once delivery_count >= max_deliveries (match it to the
  // transport's max_deliver); applies only when no retry middleware owns retries. 0: only drops.
  std::uint64_t max_deliveries = 0;
};

// On drop, publishes message.copy_content() to `subject` on `out` with the headers
// Ferry-Dead-Letter-Reason (the status text), -Subject (where it came from), -Deliveries (its
// attempt number), -Handler and -Time (RFC 3339, UTC), then acks the original. A failed publish
// turns into a retry (nothing is lost). The dead letter's id is "<handler>:<original id>", the
// same for every delivery of the original: if the process dies between the publish and the ack,
// the redelivery's letter is dropped as a duplicate by a stream with a duplicate window. `out`
// must outlive the chain.
handler_middleware dead_letter(publisher& out, std::string subject, dead_letter_options options = {});

// ---------------------------------------------------------------------------------------------
// dedup

struct dedup_options {
  std::chrono::milliseconds ttl = std::chrono::minutes(10);  // how long a processed key is remembered
  // How long a reservation (a message in flight) holds before it counts as abandoned (its
  // process died): then another copy may run.
  std::chrono::milliseconds in_flight_ttl = std::chrono::minutes(5);
  // A duplicate of a message still in flight is retried after this long.
  std::chrono::milliseconds in_flight_retry{500};
  // The key of a message; empty result: not deduplicated. Default: default_dedup_key.
  std::function<std::string(const message&)> key;
};

// Header Nats-Msg-Id, else the CloudEvents id (header ce-id, or "id" of a structured event),
// else message.id; empty when there is none.
std::string default_dedup_key(const message& m);

// Acks a duplicate without calling the handler. A key is reserved while its message is handled
// (a concurrent duplicate is retried after in_flight_retry), committed when the message is acked
// (after the router published its outputs) and released when it is not, so a failed first
// attempt can be tried again. A store error retries the message. `store` must outlive the chain.
handler_middleware dedup(dedup_store& store, dedup_options options = {});

// ---------------------------------------------------------------------------------------------
// timeout

// Sets message.deadline to now + `limit` (or keeps an earlier one) for the handler; cooperative:
// the handler should check message.past_deadline(). If it returns after the deadline, an ack or
// retry becomes retry(deadline_exceeded) and its outputs are discarded (a drop stays a drop).
handler_middleware timeout(std::chrono::milliseconds limit);

// ---------------------------------------------------------------------------------------------
// circuit_breaker

struct breaker_options {
  std::uint32_t failure_threshold = 5;         // consecutive failures (retry outcomes) that open it
  std::chrono::milliseconds open_for{30'000};  // how long it stays open before a trial
  std::uint32_t half_open_successes = 1;       // trial successes that close it again
};

// A circuit breaker: closed (calls go through; failure_threshold consecutive failures open it),
// open (calls are refused for open_for), half-open (up to half_open_successes trial calls at
// once; that many successes close it, one failure opens it again). Thread-safe.
class breaker {
 public:
  enum class state : std::uint8_t { closed, open, half_open };
  struct admission {
    bool allowed = true;
    std::chrono::milliseconds retry_after{0};  // when refused: try again after this long
  };

  explicit breaker(breaker_options options = {});
  // Whether a call may go ahead now. An allowed call must be followed by record().
  admission admit();
  // The result of a call admit() allowed.
  void record(bool success);
  [[nodiscard]] state current() const;

 private:
  const breaker_options options_;
  mutable std::mutex mu_;  // guards the fields below, except the lock-free reads of the closed path
  std::atomic<state> state_{state::closed};
  std::atomic<std::uint32_t> failures_{0};
  std::uint32_t successes_ = 0, trials_ = 0;
  std::chrono::steady_clock::time_point opened_at_{};
};

std::string_view to_string(breaker::state s);

// While the breaker is open, returns retry(unavailable, delay = the time left open) without
// calling the handler. Retry outcomes count as failures; acks and drops as successes (a drop is a
// bad message, not a failing dependency).
handler_middleware circuit_breaker(breaker_options options = {});
// The same around a breaker you keep (to share it, or to look at its state). REQUIRES: b.
handler_middleware circuit_breaker(std::shared_ptr<breaker> b);

// ---------------------------------------------------------------------------------------------
// throttle, recoverer, correlation_id, tracing, metrics

// At most `count` handler calls per `per`, after a first burst of `count` (a token bucket shared
// by every worker it wraps). A call over the rate waits on its worker (ended early by a router
// stop, which nacks). REQUIRES: count > 0, per > 0.
handler_middleware throttle(std::uint32_t count, std::chrono::milliseconds per);

// Turns an exception from the handler into retry(internal: what()), logged with the message id.
// Anything not derived from std::exception too ("non-standard exception"). Never swallows one
// silently.
handler_middleware recoverer();

// Ensures the input has a Correlation-Id header (a new id when missing) and copies it onto every
// output that has none.
handler_middleware correlation_id();

// Starts a span for each handler call (see tracing.h). `t` must outlive the chain.
handler_middleware tracing(tracer& t);

// Counts each handler call in `r` under the handler's name (see metrics.h). `r` must outlive the
// chain.
handler_middleware metrics(metrics_registry& r);

}  // namespace middleware
}  // namespace ferry
