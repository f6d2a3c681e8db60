// jetstream: the NATS JetStream transport, over nats.c (libnats). Persistent: what is published
// is stored in a stream before publish() returns, and stays until acknowledged. Works unchanged
// against ferryd and nats-server (single server or cluster, e.g. with replicas 3).
//
//   ferry::jetstream::options o;
//   o.streams = {{.name = "ORDERS", .subjects = {"order.>"}, .replicas = 3}};
//   auto t = ferry::jetstream::connect("nats://a:4222,nats://b:4222,nats://c:4222", o);
//   auto sub = (*t)->subscribe("order.created", {.group = "billing", .ack_wait = 30s}, on_order);
//
// Model:
// - Streams: each stream of `options::streams` is created if missing (create_streams) or bound
//   as it is. A subject captured by one of them is JetStream; any other subject is NATS core
//   (requests, replies and plain notifications travel there, as on the nats transport).
// - publish() waits for the stream's PubAck (publish_timeout) and sends message.id as
//   `Nats-Msg-Id`, so a publish retried with the same id is stored once (the stream's
//   duplicate window). Several messages at once are published asynchronously, then awaited.
//   While no server answers for the stream (a leader election, a restarting server, a deleted
//   stream) a message is published again until publish_timeout, then `unavailable`.
// - subscribe() with a group: a durable pull consumer named after the group (explicit acks,
//   deliver all, filtered to the subject) shared by every member: each message goes to one
//   member, and the group resumes where it stopped after a restart. Without a group: an
//   ephemeral consumer that delivers everything the stream holds for the subject, so a new
//   subscriber first receives what was published before it (persistence implies it; use a group
//   to resume instead). While JetStream cannot answer for the consumer (a request times out, a
//   cluster electing its leader says "temporarily unavailable", or, binding to a consumer made a
//   moment ago, "consumer not found"), subscribe() asks again until
//   setup_timeout. A consumer the server lost (a broker restart, an expiry) is made again
//   from the stream sequence after the last one delivered.
// - Settlement: ack = +ACK, nack = -NAK (with the delay when non-zero), term = +TERM,
//   in_progress = +WPI. delivery_count is the consumer's NumDelivered; stream_sequence and
//   redelivered come from the message metadata. subscription_options::ack_wait and max_deliver
//   become the consumer's AckWait and MaxDeliver.
// - Each subscription has one delivery thread that pulls at most max_in_flight minus the
//   unsettled deliveries, and calls the callback one message at a time, in stream order.
//
// Thread safety: every method is thread-safe; callbacks run on the subscriptions' threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ferry/nats.h"
#include "ferry/result.h"
#include "ferry/transport.h"

namespace ferry::jetstream {

enum class storage : std::uint8_t { file, memory };

struct stream_config {
  std::string name;
  std::vector<std::string> subjects;  // when creating; a bound stream keeps its own
  storage store = storage::file;
  int replicas = 1;
  std::chrono::milliseconds max_age{0};           // zero: no limit
  std::int64_t max_msgs = -1;                     // -1: no limit
  std::int64_t max_bytes = -1;                    // -1: no limit
  std::chrono::milliseconds duplicate_window{0};  // zero: the server's (two minutes)
};

struct options {
  nats::options connection;
  std::vector<stream_config> streams;
  bool create_streams = true;                       // false: every stream must exist (bind only)
  std::chrono::milliseconds publish_timeout{5000};  // one PubAck, or one JetStream API answer (1 s at least)
  // How long connect() (for its streams) and subscribe() (for its consumer) keep asking while
  // JetStream cannot answer: long enough for a cluster to elect a leader after a node was lost.
  std::chrono::milliseconds setup_timeout{15'000};
  std::size_t fetch_batch = 256;                    // most messages one pull asks for
  // An ephemeral consumer is removed by the server this long after its subscriber went away.
  std::chrono::milliseconds inactive_threshold{60'000};
};

// Connects, then creates or binds every stream (asking again until setup_timeout while JetStream
// cannot answer). `unavailable` when no server answers; `not_found` for a stream that is missing
// with create_streams false.
result<std::unique_ptr<transport>> connect(const std::string& url, options o);

// jetstream://host:port?stream=ORDERS:order.>,payment.>&stream=DLQ:dlq.>: the nats:// keys for the
// connection, and stream=NAME[:SUBJECT,SUBJECT...] (repeatable), replicas, storage (file|memory),
// max_age and duplicate_window (for the streams it creates), create_streams, publish_timeout,
// setup_timeout, fetch_batch, inactive_threshold.
result<std::unique_ptr<transport>> connect_url(const transport_url& url);

}  // namespace ferry::jetstream
