// The reply subject of a JetStream delivery, which carries the message's metadata and is where
// acknowledgements go: $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
// (9 tokens), or the newer form with a domain and an account hash after ACK (11 tokens or more,
// a random token may follow). Parsed once here for ferryd (routing acks) and the CLI (showing
// metadata).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::protocol {

struct ack_subject {
  std::string_view stream;
  std::string_view consumer;
  std::uint64_t deliveries = 0;
  std::uint64_t stream_seq = 0;
  std::uint64_t consumer_seq = 0;
  std::int64_t timestamp_ns = 0;
  std::uint64_t pending = 0;
};

// nullopt unless `s` has one of the two shapes with five whole numbers where they belong.
std::optional<ack_subject> parse_ack_subject(std::string_view s);

}  // namespace ferry::protocol
