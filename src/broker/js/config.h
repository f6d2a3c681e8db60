// Stream and consumer configurations: parsed from JetStream API requests with nats-server's
// defaults and checks (checkStreamCfg, setConsumerConfigDefaults), and written back in its
// JSON layout (Go struct order, omitempty where Go omits). Durations are nanoseconds.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/rfc3339.h"
#include "broker/js/errors.h"

namespace ferry::broker::js {

using ojson = nlohmann::ordered_json;

// JetStream's durations are nanoseconds.
inline constexpr std::int64_t second = 1'000'000'000;

enum class retention_policy { limits, interest, workqueue };
enum class storage_type { file, memory };
enum class discard_policy { old, new_ };
enum class deliver_policy { all, last, new_, by_start_sequence, by_start_time, last_per_subject };
enum class ack_policy { none, all, explicit_ };
enum class replay_policy { instant, original };

struct republish_config {
  std::string src, dest;
  bool headers_only = false;
  bool operator==(const republish_config&) const = default;
};

struct stream_config {
  std::string name;
  std::string description;
  std::vector<std::string> subjects;
  retention_policy retention = retention_policy::limits;
  std::int64_t max_consumers = -1;
  std::int64_t max_msgs = -1;
  std::int64_t max_bytes = -1;
  std::int64_t max_age = 0;
  std::int64_t max_msgs_per_subject = -1;
  std::int64_t max_msg_size = -1;
  discard_policy discard = discard_policy::old;
  storage_type storage = storage_type::file;
  int num_replicas = 1;
  bool no_ack = false;
  std::int64_t duplicate_window = 0;
  std::optional<republish_config> republish;
  bool allow_direct = false;
  bool mirror_direct = false;
  bool discard_new_per_subject = false;
  bool sealed = false;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup_hdrs = false;
  // ferryd: messages of every consumer that reach max_deliver or are terminated are copied
  // into this stream (a consumer's own dead_letter_stream takes precedence). Empty: none.
  std::string dead_letter_stream;

  // Equal as configurations (what nats-server compares for an idempotent create).
  bool operator==(const stream_config&) const = default;
};

struct consumer_config {
  std::string durable_name;
  std::string name;
  std::string description;
  deliver_policy deliver = deliver_policy::all;
  std::uint64_t opt_start_seq = 0;
  std::optional<std::int64_t> opt_start_time_ns;
  ack_policy ack = ack_policy::none;  // Go zero value: a consumer without ack_policy acks nothing
  std::int64_t ack_wait = 0;
  std::int64_t max_deliver = 0;
  std::vector<std::int64_t> backoff;
  std::string filter_subject;
  replay_policy replay = replay_policy::instant;
  std::uint64_t rate_limit_bps = 0;
  std::string sample_freq;
  std::int64_t max_waiting = 0;
  std::int64_t max_ack_pending = 0;
  std::int64_t idle_heartbeat = 0;
  bool flow_control = false;
  bool headers_only = false;
  std::int64_t max_batch = 0;
  std::int64_t max_expires = 0;
  std::int64_t max_bytes = 0;
  std::string deliver_subject;
  std::string deliver_group;
  std::int64_t inactive_threshold = 0;
  int num_replicas = 0;
  bool mem_storage = false;
  bool direct = false;
  std::string dead_letter_stream;  // ferryd extension, see stream_config

  [[nodiscard]] bool push() const { return !deliver_subject.empty(); }
  bool operator==(const consumer_config&) const = default;
};

// Parses a StreamConfig object (unknown keys ignored, as Go does); types are checked.
api_result<stream_config> parse_stream_config(const nlohmann::json& j);
// Applies nats-server's defaults and checks (name, subjects, limits, duplicate window...).
api_error normalize(stream_config& c);
ojson to_json(const stream_config& c);

api_result<consumer_config> parse_consumer_config(const nlohmann::json& j);
// Defaults for a consumer on a stream with retention `r` (ack_wait 30 s, max_ack_pending
// 1000, max_waiting 512 for pull, max_deliver -1, ...) and the checks nats-server makes.
api_error normalize(consumer_config& c, const stream_config& stream);
ojson to_json(const consumer_config& c);

// True if `name` can name a stream or consumer: non-empty, at most 255 bytes, no '.', '*',
// '>', whitespace or path separators.
bool is_valid_name(std::string_view name);

}  // namespace ferry::broker::js
