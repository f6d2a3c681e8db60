// codec: a ferry message to Kafka headers and back. The id, a request's reply address and the
// transport's bookkeeping travel as headers of their own; every other header is the user's.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "transport/kafka/client.h"

namespace ferry::kafka::detail {

namespace wire {
inline constexpr std::string_view id = "Ferry-Id";
inline constexpr std::string_view reply_to = "Ferry-Reply-To";              // on a request: "<topic>#<token>"
inline constexpr std::string_view reply_token = "Ferry-Reply-Token";        // on a reply: the request's token
inline constexpr std::string_view delivery_count = header::delivery_count;  // on a retry-topic copy
inline constexpr std::string_view not_before = "Ferry-Not-Before";          // on a retry-topic copy: Unix ms
}  // namespace wire

// Where a message goes: its subject is a topic, or a reply address "<topic>#<token>" (the
// requester's reply topic and the request's token).
class destination {
 public:
  // Views into `subject`, which must outlive this.
  explicit destination(const std::string& subject);
  // The topic, NUL-terminated (the subject itself unless it is a reply address: no copy).
  [[nodiscard]] const char* topic() const { return copy_.empty() ? subject_.c_str() : copy_.c_str(); }
  [[nodiscard]] std::string_view topic_view() const { return copy_.empty() ? std::string_view(subject_) : copy_; }
  [[nodiscard]] std::string_view token() const { return token_; }  // empty: a plain topic

 private:
  const std::string& subject_;
  std::string copy_;
  std::string_view token_;
};

// The headers of `m` on the wire: its user headers, then Ferry-Id (`id`: m.id, or the one made for
// a message without), Ferry-Reply-To (when m.reply is set) and Ferry-Reply-Token (when
// `reply_token` is not empty).
headers_ptr to_headers(const message& m, std::string_view id, std::string_view reply_token);

// What the transport itself wrote into a consumed message's headers.
struct bookkeeping {
  std::optional<std::uint32_t> delivery_count;
  std::optional<std::chrono::system_clock::time_point> not_before;
  std::string reply_token;
};

// Fills `m` from `km`: subject (= `subject`), key, payload, user headers, id (the Ferry-Id
// header, else "<topic>/<partition>/<offset>"), reply, and the delivery facts the log knows
// (partition, stream_sequence = offset + 1, published). Returns the bookkeeping headers.
bookkeeping from_kafka(const rd_kafka_message_t* km, std::string_view subject, message& m);

// A copy of a consumed message's headers `src` (null: it had none) with its id, delivery count and
// not-before time set: the headers of its retry-topic copy (the id is written even when the
// message had none, so it stays the same).
headers_ptr retry_headers(const rd_kafka_headers_t* src, std::string_view id, std::uint32_t delivery_count,
                          std::chrono::system_clock::time_point not_before);

}  // namespace ferry::kafka::detail
