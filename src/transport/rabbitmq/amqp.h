// amqp: what the RabbitMQ transport shares about rabbitmq-c: a connection that closes itself, RPC
// replies and library codes as ferry statuses, the topology (exchange, queues, bindings), frames
// read without blocking, and ferry messages as AMQP properties and header tables and back.
//
// A connection is used by one thread at a time.
#pragma once

#include <amqp.h>
#include <amqp_framing.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/rabbitmq.h"
#include "ferry/result.h"

namespace ferry::rabbitmq::detail {

inline amqp_bytes_t bytes(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

// Replies to a request go to the default exchange under this routing-key prefix (RabbitMQ's
// direct reply-to); the reply address is "<routing key>#<correlation id>".
inline constexpr std::string_view direct_reply_to = "amq.rabbitmq.reply-to";
inline constexpr std::string_view x_delivery_count = "x-delivery-count";  // quorum queues

class connection {
 public:
  // Connects (within o.connect_timeout), logs in, and opens channels 1..`channels`.
  static result<std::unique_ptr<connection>> open(const std::string& address, const options& o, const std::string& name,
                                                  int channels);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  [[nodiscard]] amqp_connection_state_t get() const { return c_; }
  [[nodiscard]] int fd() const { return amqp_get_sockfd(c_); }
  [[nodiscard]] bool broken() const { return broken_; }
  // Closes without the connection.close handshake (a broker that blocks this connection reads
  // nothing, and the handshake would wait for rpc_timeout).
  void abandon() { broken_ = true; }

  // The outcome of the last synchronous call (queue.declare...): OK, or the broker's reason. A
  // channel error is answered (close-ok) and the channel opened again; a connection error breaks
  // the connection.
  status rpc_status(std::string_view what, amqp_channel_t ch);
  // A library status code (amqp_basic_publish...) as a status; a socket error breaks the connection.
  status check(int code, std::string_view what);

  // The next frame if one is readable within `timeout` (zero: only what is already here); nullopt
  // when none came. Connection-level closes are answered and break the connection (unavailable).
  result<std::optional<amqp_frame_t>> next_frame(std::chrono::milliseconds timeout);
  // The content (header and body frames) that follows a basic.deliver or basic.return on `ch`.
  result<amqp_message_t> read_content(amqp_channel_t ch);
  // True when a frame is decoded or bytes wait in the library's buffer (poll() would not see them).
  [[nodiscard]] bool buffered() const;
  // Answers a channel.close from the broker and opens the channel again; returns the reason.
  status reopen_channel(amqp_channel_t ch, const amqp_channel_close_t& why);

 private:
  connection() = default;
  status open_channel(amqp_channel_t ch);
  amqp_connection_state_t c_ = nullptr;
  bool broken_ = false;
};

// The topic exchange (durable).
status declare_exchange(connection& c, amqp_channel_t ch, const std::string& exchange);

struct queue_spec {
  std::string name;
  std::uint32_t delivery_limit = 0;  // x-delivery-limit (0: none)
  std::string dead_letter_exchange;  // x-dead-letter-exchange (empty: none)
  std::int64_t expires_ms = -1;      // x-expires: deleted when unused this long (-1: never)
};
// Declares a durable quorum queue (or finds it: failed_precondition when it exists with other
// arguments, naming them).
status declare_queue(connection& c, amqp_channel_t ch, const queue_spec& q);
status bind_queue(connection& c, amqp_channel_t ch, const std::string& queue, const std::string& exchange,
                  const std::string& pattern);

// A NATS subject pattern as an AMQP topic pattern: `>` -> `#` (a `*` token stays).
std::string binding_pattern(std::string_view subject);
// OK when `subject` is something ferry can publish to (`pattern` false) or subscribe to (true):
// non-empty tokens, no `#`, wildcards only in patterns (`>` last), at most 255 bytes.
status check_subject(std::string_view subject, bool pattern);
// invalid_argument when `m` cannot be carried: an id over 255 bytes, a header name that is empty,
// over 128 bytes or reserved (x-..., Ferry-Key).
status check_message(const message& m);

// The AMQP properties and headers table of a message (several values of one name as an array;
// the key under Ferry-Key). Points into `m` and into this object: both must outlive the publish.
class outgoing {
 public:
  // `correlation_id`/`reply_to`: a reply's correlation id, or a request's reply queue and id.
  outgoing(const message& m, std::string_view correlation_id, std::string_view reply_to);
  outgoing(const outgoing&) = delete;
  outgoing& operator=(const outgoing&) = delete;
  [[nodiscard]] const amqp_basic_properties_t* properties() const { return &props_; }

 private:
  amqp_basic_properties_t props_{};
  std::vector<amqp_table_entry_t> entries_;
  std::deque<std::vector<amqp_field_value_t>> arrays_;  // a deque: the arrays do not move
};

// A delivered message from its routing key, properties and body: id (message-id, else empty),
// key, headers (a value of another type as text), reply (reply-to#correlation-id), published
// (timestamp), delivery count (the quorum queue's x-delivery-count + 1) and redelivered.
message incoming(std::string_view routing_key, const amqp_basic_properties_t& p, amqp_bytes_t body, bool redelivered);

}  // namespace ferry::rabbitmq::detail
