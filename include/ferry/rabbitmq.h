// rabbitmq: the RabbitMQ transport, over rabbitmq-c (AMQP 0-9-1). Persistent queues, publisher
// confirms, consumer groups as shared quorum queues, delayed retries without plugins.
//
//   auto t = ferry::rabbitmq::connect("127.0.0.1:5672", {.user = "guest", .password = "guest"});
//   auto t = ferry::connect("amqp://guest:guest@127.0.0.1:5672/?exchange=shop");
//   auto sub = (*t)->subscribe("order.*", {.group = "billing"}, on_order);
//
// Model (docs/transports.md has the table):
// - One topic exchange (options::exchange, default "ferry", durable), declared at connect. Subject
//   = routing key; a subscription's NATS wildcards become AMQP ones (`*` one word, `>` -> `#`).
// - publish() returns once the broker confirmed the message (publisher confirms: a quorum queue
//   confirms once a majority wrote it to disk). Published mandatory: a message no queue takes
//   fails with unavailable ("no queue is bound"), never vanishes silently (unroutable = drop to
//   publish the RabbitMQ way). Persistent; id = message-id, key and headers in the headers table
//   (several values of one name as an array; any byte in a value). publish(vector) and
//   publish_async() keep many confirms outstanding: one I/O thread per transport publishes and
//   reads the confirms.
// - Every subscription consumes a durable quorum queue bound to the exchange. A group's queue is
//   "<group>.<subject>", shared by its members and kept when they stop; without a group the
//   subscription gets a queue of its own, "ferry-sub.<id>.<subject>", deleted when it stops (and
//   by the broker after unused_queue_expiry if the process dies). A queue receives what is
//   published once it exists: there is no log to replay (a new group gets no old messages).
// - basic.qos prefetch = max_in_flight. ack = basic.ack (the settled prefix in one multiple ack);
//   term = basic.reject (to dead_letter_exchange when set; the router's dead-letter middleware has
//   published its own letter); nack = basic.nack with requeue, sent once the delay is over (the
//   delivery holds its prefetch slot until then: no plugin, no retry queues, nothing lost if the
//   process dies meanwhile). delivery_count = the quorum queue's x-delivery-count + 1.
// - ack_wait: a delivery left unsettled that long is requeued (in_progress() restarts the clock);
//   max_deliver: a delivery past it is rejected without reaching the callback.
// - request(): RabbitMQ's direct reply-to with a correlation id; unavailable at once when no queue
//   takes the request (nobody subscribed), deadline_exceeded on timeout.
// - Connection loss: every connection reconnects with backoff and declares its topology again;
//   unconfirmed messages are published again (a consumer may see one twice: same id), queued ones
//   wait up to publish_timeout; unacknowledged deliveries come back from the broker, redelivered.
// - Resource alarm (the broker short of memory or disk blocks publishing connections): nothing
//   more is written until the broker unblocks; publishes fail after publish_timeout with its
//   reason. A write that makes no progress for publish_timeout breaks the connection.
//
// Thread safety: every method is thread-safe; callbacks run on the subscriptions' threads;
// publish_async callbacks on the transport's I/O thread (there publish(), flush() and request(),
// which would wait for that thread, are refused with failed_precondition; close() works, the rest
// of it done by a thread of its own). A subscription's thread also answers the
// broker's heartbeats: a callback that blocks longer than twice `heartbeat` loses the connection
// (the broker requeues what it had not acknowledged).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ferry/connect.h"
#include "ferry/result.h"
#include "ferry/transport.h"

namespace ferry::rabbitmq {

// What publish() does with a message no queue is bound to take.
enum class unroutable_policy : std::uint8_t {
  error,  // unavailable (the message is published mandatory and comes back)
  drop,   // OK, and the broker drops it (RabbitMQ's default)
};

struct options {
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  std::string exchange = "ferry";  // the topic exchange every subject is published to
  // Optional: dead-letter exchange of the group queues this transport declares (term() and
  // x-delivery-limit send there); empty: none.
  std::string dead_letter_exchange;
  std::chrono::milliseconds connect_timeout{5'000};
  // A publish waits this long for its confirm (and a queued one for a connection, or for a broker
  // that blocks publishing to read again).
  std::chrono::milliseconds publish_timeout{10'000};
  // Messages queued or awaiting their confirm at most: a publish (publish_async too) beyond it
  // waits for room, up to publish_timeout, then fails with resource_exhausted. Without a bound a
  // fast publisher queues more than the broker confirms within publish_timeout.
  std::size_t max_pending = 16'384;
  std::string connection_name = "ferry";  // shown in the management UI
  std::chrono::seconds heartbeat{30};     // AMQP heartbeat (0: none)
  unroutable_policy unroutable = unroutable_policy::error;
  // A subscription without a group: its queue is deleted this long after its last consumer went
  // (x-expires; a clean stop deletes it at once).
  std::chrono::milliseconds unused_queue_expiry{60'000};
};

// Connects to "host:port": unavailable when the broker does not answer within connect_timeout,
// unauthenticated for bad credentials.
result<std::unique_ptr<transport>> connect(const std::string& address, options o = {});

// amqp://[user:password@]host[:port][/vhost]?key=value (vhost percent-encoded, "%2f" for "/"; none:
// "/"): keys exchange, dead_letter_exchange, connect_timeout, publish_timeout, max_pending,
// heartbeat, name, unroutable (error|drop), unused_queue_expiry.
result<std::unique_ptr<transport>> connect_url(const transport_url& url);

}  // namespace ferry::rabbitmq
