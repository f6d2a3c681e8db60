// inproc: the in-process transport. Publishers and subscribers in one process, no broker, no
// persistence; for tests, for one service's internal events, and as the fastest transport.
//
//   auto t = ferry::inproc::make_transport({.workers = 2, .queue_capacity = 4096});
//   auto sub = t->subscribe("order.*", {.group = "billing", .max_in_flight = 64}, on_order);
//   t->publish(ferry::message("order.created", "{}"));
//
// Model:
// - Subjects and wildcards as NATS (`*` one token, a final `>` the rest).
// - Each subscription has a bounded queue (`queue_capacity`) and is run by a bounded worker pool
//   (`workers` threads): one subscription's callbacks run one at a time, in queue order, so a
//   subscription sees one publisher's messages in order (per_key_order). At most
//   `subscription_options::max_in_flight` of its deliveries are unsettled at once.
// - Consumer groups: subscriptions with the same `group` share the messages (each to one member):
//   a message with a key always goes to the same member while membership is unchanged (so one
//   key stays in order inside a group); without a key, round-robin, skipping full members.
// - Back-pressure: publish returns once every target subscription has the message queued. When a
//   target's queue is full the publisher waits (overflow::block; `block_timeout` bounds the wait,
//   then resource_exhausted) or fails at once (overflow::fail: resource_exhausted). Either way the
//   other targets already have the message and keep being served: one slow subscriber holds back
//   only the publishers that send to it, and only once its own queue is full. A publish made
//   from inside one of this transport's callbacks never waits (the callback may be what the
//   full queue waits for): it goes over the bound instead.
// - nack() delivers the message again (at the front of its subscription's queue, after the delay
//   if any, on a timer thread), with delivery_count + 1. Nothing survives the process.
// - request() sends to a private inbox subject; `unavailable` when no subscription matches.
// - close() stops taking publishes, waits (up to `close_timeout`) until every queue has been
//   handed to its callbacks, then stops every subscription and the threads.
//
// Thread safety: every method of the transport is thread-safe; callbacks run on the pool's
// threads and never under a transport lock, so they may publish, subscribe, settle and stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ferry/connect.h"
#include "ferry/transport.h"

namespace ferry::inproc {

enum class overflow : std::uint8_t {
  block,  // publish waits for room (at most block_timeout when non-zero)
  fail,   // publish returns resource_exhausted at once
};

struct options {
  // Threads that run callbacks; 0: one per core.
  std::size_t workers = 0;
  // Messages waiting per subscription (not counting the ones in flight). At least 1.
  std::size_t queue_capacity = 4096;
  overflow when_full = overflow::block;
  // overflow::block: give up after this long with resource_exhausted; zero waits for as long as needed.
  std::chrono::milliseconds block_timeout{0};
  // Deliveries one worker makes from one subscription before serving another (fairness).
  std::size_t batch = 256;
  // close(): the longest it waits for queued messages to be handed to their callbacks.
  std::chrono::milliseconds close_timeout{10'000};
};

// A new, empty in-process bus. Never fails.
std::unique_ptr<transport> make_transport(options o = {});

// inproc://?workers=2&queue_capacity=4096: the fields of `options` (when_full=block|fail,
// block_timeout and close_timeout as durations). Each call makes a new, separate bus.
result<std::unique_ptr<transport>> connect_url(const transport_url& url);

}  // namespace ferry::inproc
