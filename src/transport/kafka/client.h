// client: what every part of the Kafka transport shares about librdkafka: handles that free
// themselves, configurations built from ferry's options (refusing what librdkafka does not know),
// errors turned into ferry statuses, topic names checked, and librdkafka's log sent to spdlog.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/kafka.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry::kafka::detail {

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct headers_deleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct message_deleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct partitions_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;
using headers_ptr = std::unique_ptr<rd_kafka_headers_t, headers_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;
using partitions_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, partitions_deleter>;

// The status for a librdkafka error, with `what` in front ("publishing to orders: ...").
status from_rdkafka(rd_kafka_resp_err_t err, std::string_view what);

// OK when `topic` is a valid Kafka topic name; invalid_argument otherwise, naming the wildcard
// alternative for '*' and '>'.
status check_topic(std::string_view topic);

enum class role : std::uint8_t { producer, consumer };
// A configuration for `role`: bootstrap servers, client id, the fixed properties of the role (an
// idempotent producer; a consumer that commits only what it is told), then o.properties.
// invalid_argument naming a property that librdkafka refuses.
result<conf_ptr> make_conf(const std::string& bootstrap, const options& o, role r);
// Sets one property; invalid_argument with librdkafka's reason on failure.
status set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

// Creates the handle (takes `conf` on success).
result<rd_kafka_t*> make_handle(conf_ptr conf, rd_kafka_type_t type);

// Leaves the group and closes the consumer (rd_kafka_consumer_close). `what` names it in the log.
void close_consumer_only(rd_kafka_t* rk, const std::string& what);

// Destroys a consumer handle after close_consumer_only(), without a second close, waiting at
// most `limit`. librdkafka 2.0 (Debian 12's) can wait forever here: a plain rd_kafka_destroy()
// closes the consumer again, and that close can wait for a reply that never comes (seen after the
// brokers restarted); and a close that ended with _TIMED_OUT before its group was done (a member
// leaving while a rebalance was under way, about once in ten tries on a loaded machine) leaves a
// group that never ends, so no destroy returns. Past `limit` the handle is left to its threads,
// with an error in the log, so that shutting a service down never hangs on it. No callback of
// ours runs after this returns: librdkafka runs them only when polled.
void destroy_consumer(rd_kafka_t* rk, const std::string& what,
                      std::chrono::milliseconds limit = std::chrono::seconds(10));

// close_consumer_only(), then destroy_consumer().
void close_consumer(rd_kafka_t* rk, const std::string& what);

// Asks the brokers about `topic` (creating it where the handle and the brokers allow), waiting
// up to `timeout` for it to have partitions with leaders. Returns the partition ids; not_found when
// the topic does not exist and was not created, unavailable when no broker answered.
result<std::vector<std::int32_t>> topic_partitions(rd_kafka_t* rk, const std::string& topic,
                                                   std::chrono::milliseconds timeout);

// Assigns every partition of `topic` to `consumer` at its current end (high watermark), so that
// it reads exactly what is published after this returns; returns those offsets, in the order of
// `partitions`. It adds to the assignment (call it once per topic).
result<std::vector<std::int64_t>> assign_from_end(rd_kafka_t* consumer, const std::string& topic,
                                                  const std::vector<std::int32_t>& partitions,
                                                  std::chrono::milliseconds timeout);

}  // namespace ferry::kafka::detail
