// redis: the Redis Streams transport, over hiredis. Persistent (as durable as the server's AOF
// settings), consumer groups, redelivery of what a member left unacknowledged.
//
//   auto t = ferry::redis::connect("127.0.0.1:6379", {.consumer = "billing-1"});
//   auto t = ferry::connect("redis://127.0.0.1:6379?consumer=billing-1&maxlen=1000000");
//   auto sub = (*t)->subscribe("orders", {.group = "billing", .ack_wait = 30s}, on_order);
//
// Model (docs/transports.md has the table):
// - Subject = stream key (no wildcards: '*' and '>' are refused; no whitespace or control bytes).
// - An entry's fields: `payload` (the payload), `ferry-id`, `ferry-key` (the message's key),
//   `ferry-reply-to`, and one field per header value under the header's name (names `payload` and
//   `ferry-*` are reserved). An entry written by another client (XADD s * payload hi trace 7) is a
//   message with that payload and those headers; one without `ferry-id` gets "<stream>/<entry id>".
// - publish() is XADD (with MAXLEN ~ options::maxlen when set: trimming drops the oldest entries,
//   also ones a slow group has not read yet); it returns once Redis has the entry (durable as the
//   server's appendfsync). publish(vector) pipelines the XADDs.
// - subscribe() with a group: XGROUP CREATE at the stream's start (options::group_start), then
//   XREADGROUP as consumer `<options::consumer>[-n]`. A member first reads back its own pending
//   entries (after a restart with the same consumer name), then new ones. ack = XACK (batched),
//   term = XACK (the router's dead-letter middleware has published the letter), nack(delay) = the
//   entry stays pending and this member claims it again after the delay (XCLAIM), in_progress =
//   XCLAIM JUSTID (resets its idle time). An entry pending longer than ack_wait (a crashed member's,
//   or one held too long) is taken over by a live member with XAUTOCLAIM. delivery_count is Redis's
//   own delivery counter. A consumer name is deleted on stop only when it holds no pending entry.
// - subscribe() without a group: XREAD from the stream's last entry at the time of the call: every
//   later entry, nothing to acknowledge; nack re-reads the entry (XRANGE) after the delay.
// - At most max_in_flight unsettled deliveries per subscription (it reads no more until one is
//   settled).
// - request(): XADD to the subject with a reply address "<reply stream>#<token>"; the responder's
//   reply is XADDed to this process's reply stream (trimmed, expiring an hour after its last use).
//   Redis cannot tell who reads a stream (a reader without a group leaves no trace), so a request
//   nobody answers ends with deadline_exceeded.
// - Connection loss: every connection reconnects with backoff; a reader resumes with its pending
//   entries first; publish() retries until publish_timeout, then fails with unavailable.
//
// Thread safety: every method is thread-safe; callbacks run on the subscriptions' threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ferry/connect.h"
#include "ferry/result.h"
#include "ferry/transport.h"

namespace ferry::redis {

enum class group_start : std::uint8_t { beginning, end };

struct options {
  // Consumer name in every group; empty: "<hostname>-<pid>". Give each process a stable name (a
  // pod name) to get its pending entries back at once after a restart; a new name leaves them to
  // be taken over after ack_wait. Several subscriptions of one group in a process get -2, -3...
  std::string consumer;
  std::string password;  // AUTH, when the server wants one
  int database = 0;      // SELECT
  // XADD MAXLEN ~ (approximate trim); 0: never trim.
  std::uint64_t maxlen = 0;
  group_start start = group_start::beginning;  // where a group created by subscribe() begins
  std::chrono::milliseconds connect_timeout{5'000};
  // publish() retries through a lost connection for this long, then fails with unavailable.
  std::chrono::milliseconds publish_timeout{10'000};
  // The longest a read blocks. stop() ends a blocked read at once (CLIENT UNBLOCK from a short
  // connection of its own); where the server refuses CLIENT to this user, stop() waits for the read
  // to end, up to `block`.
  std::chrono::milliseconds block{100};
  std::string reply_stream;  // empty: "ferry.reply.<random>"
};

// Connects to "host:port" (or a Unix socket path starting with '/'): unavailable when Redis does not
// answer within connect_timeout, failed_precondition when it is older than 7.0 (XAUTOCLAIM).
result<std::unique_ptr<transport>> connect(const std::string& address, options o = {});

// redis://[:password@]host:port[/database]?key=value: keys consumer, maxlen, group_start
// (beginning|end), connect_timeout, publish_timeout, block, reply_stream.
result<std::unique_ptr<transport>> connect_url(const transport_url& url);

}  // namespace ferry::redis
