// codec: a ferry message as the fields of a Redis stream entry, and back.
//
// Fields: `payload`, `ferry-id`, `ferry-key`, `ferry-reply-to`, `ferry-reply-token`, then one field
// per header value under the header's own name. An entry from another client maps the same way
// (its `payload` field is the payload, every other field a header), so plain XADDs are messages.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "transport/redis/connection.h"

namespace ferry::redis::detail {

namespace field {
inline constexpr std::string_view payload = "payload";
inline constexpr std::string_view id = "ferry-id";
inline constexpr std::string_view key = "ferry-key";
inline constexpr std::string_view reply_to = "ferry-reply-to";        // a request: "<stream>#<token>"
inline constexpr std::string_view reply_token = "ferry-reply-token";  // a reply: the request's token
}  // namespace field

// invalid_argument when a header name is a reserved field name.
status check_headers(const message& m);

// Appends `m`'s fields (views into `m`, which must outlive the command) to `a`.
void add_fields(const message& m, std::string_view reply_token, args& a);

// The entry `entry` (a reply array [id, [field, value, ...]]) of stream `stream` as a message:
// subject, payload, key, headers, id (ferry-id, else "<stream>/<entry id>"), reply, and
// delivery.stream_sequence (the entry id packed, docs/transports.md) and published (its ms).
// Returns the reply token (replies only).
std::string from_entry(const redisReply* entry, std::string_view stream, message& m);

// The entry id of a reply entry ("1700000000000-0").
std::string_view entry_id(const redisReply* entry);

// An entry id as two numbers: compared and stored without a string.
struct entry_key {
  std::uint64_t ms = 0, seq = 0;
  static entry_key parse(std::string_view id);
  // Appends "ms-seq" to `out`.
  void append_to(std::string& out) const;
  [[nodiscard]] std::string str() const;
  friend bool operator==(const entry_key&, const entry_key&) = default;
};

}  // namespace ferry::redis::detail
