// kafka: the Kafka transport, over librdkafka. Persistent, consumer groups, per-key order.
//
//   auto t = ferry::kafka::connect("10.0.0.1:9092,10.0.0.2:9092", {.client_id = "billing"});
//   auto t = ferry::connect("kafka://10.0.0.1:9092?client.id=billing&nack=retry_topics");
//   auto sub = (*t)->subscribe("orders", {.group = "billing"}, on_order);
//
// Model (docs/transports.md has the table):
// - Subject = topic (letters, digits, '.', '_', '-'; no wildcards: subscribe to each topic). A
//   topic that does not exist is created by subscribe() and publish() where the brokers allow it
//   (auto.create.topics.enable), with the brokers' default partitions.
// - message.key = the Kafka key: the partitioner keeps one key in one partition, so one key keeps
//   its order. The id travels in the `Ferry-Id` header (a message without it, from a producer that
//   is not ferry, gets "<topic>/<partition>/<offset>", the same on every delivery); other headers
//   as given (any bytes, several values per name).
// - publish() returns once the brokers acknowledged the message (idempotent producer, acks=all);
//   publish(vector) and publish_async() keep many messages in flight. publish_async() hands the
//   message to librdkafka, which copies it, before it returns: a message the caller keeps
//   (publish_async(m, done)) costs no copy and may be refilled for the next call at once.
// - subscribe() with a group: a member of that Kafka consumer group (cooperative-sticky). A new
//   group starts at the beginning of each partition, a known one at its committed offsets. ack()
//   may come in any order: the transport commits, per partition, only up to the lowest offset
//   still unsettled (every commit_interval, on a rebalance and on stop), so a crash redelivers
//   what was not acknowledged and never skips it. On a rebalance, revoked partitions wait up to
//   revoke_timeout for their unsettled messages, commit, and let go; a message settled later is
//   not committed by the old owner (the new owner has it again).
// - subscribe() without a group: every partition from its end at the time of the call; nothing is
//   committed (a restarted subscriber starts at the end again).
// - At most max_in_flight unsettled messages per subscription: beyond that its partitions are
//   paused (the group membership stays alive).
// - nack(delay), two modes (options::nack, or `nack=` in the URL):
//     blocking:     the partition goes back to the nacked offset and pauses for the delay: the
//                   key's order is kept, the partition waits. Messages after it that were already
//                   acked are not delivered again; unsettled ones are (redelivered, but their
//                   delivery_count not raised: they did not fail). delivery_count is counted by
//                   this member (it starts again at 1 on another member).
//     retry_topics: the message is copied to "<topic>.retry.<group>" with its delivery count and
//                   a not-before time, the original is committed, and the subscription consumes
//                   the retry topic once the time has come: the partition keeps flowing, the
//                   key's order is given up. delivery_count survives crashes and rebalances.
//   Without a group, nack is always blocking. term() commits past the message (the router's
//   dead-letter middleware has published the letter before). max_deliver reached: the message is
//   logged and committed past, never delivered again.
// - request(): sends to the topic with a `Ferry-Reply-To` header naming this process's reply topic
//   (options::reply_topic, or "ferry.reply.<random>") and a token; a responder publishes its
//   reply to message.reply. unavailable when the request topic does not exist (nobody ever
//   subscribed), deadline_exceeded on timeout.
//
// Thread safety: every method is thread-safe; callbacks run on the subscriptions' threads, never
// under a transport lock; publish_async's callbacks run on the producer's delivery-report thread
// (there publish(), a batch, flush() and request(), which would wait for that thread, are refused
// with failed_precondition; close() works, the rest of it done by a thread of its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ferry/connect.h"
#include "ferry/result.h"
#include "ferry/transport.h"

namespace ferry::kafka {

enum class nack_mode : std::uint8_t { blocking, retry_topics };

struct options {
  std::string client_id = "ferry";
  // librdkafka properties applied last (e.g. {"linger.ms", "5"}, {"security.protocol", "ssl"});
  // a property librdkafka does not know, or a bad value, fails connect() naming it.
  std::map<std::string, std::string> properties;
  nack_mode nack = nack_mode::blocking;
  // connect() fails with unavailable when no broker answered within this.
  std::chrono::milliseconds connect_timeout{10'000};
  // publish() gives up with deadline_exceeded after this (librdkafka's message.timeout.ms).
  std::chrono::milliseconds publish_timeout{30'000};
  // How often a subscription commits what was settled.
  std::chrono::milliseconds commit_interval{500};
  // A revoked partition waits this long for its unsettled messages before it lets go.
  std::chrono::milliseconds revoke_timeout{10'000};
  // Group members: session.timeout.ms and heartbeat.interval.ms of the consumer.
  std::chrono::milliseconds session_timeout{10'000};
  std::chrono::milliseconds heartbeat_interval{1'000};
  // The topic replies to this process's requests come back on; empty: "ferry.reply.<random>".
  std::string reply_topic;
};

// Connects to the bootstrap servers ("host:port,host:port"): unavailable when none answers within
// connect_timeout, invalid_argument for a bad property.
result<std::unique_ptr<transport>> connect(const std::string& bootstrap_servers, options o = {});

// kafka://hosts?key=value: keys client.id.. as librdkafka properties, and ferry's own: nack
// (blocking|retry_topics), connect_timeout, publish_timeout, commit_interval, revoke_timeout,
// session_timeout, heartbeat_interval (durations such as 500ms), reply_topic.
result<std::unique_ptr<transport>> connect_url(const transport_url& url);

}  // namespace ferry::kafka
