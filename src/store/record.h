// record: the byte layout of the records in file_store segment files (docs/store-format.md).
//
// Every record is framed the same way, little-endian:
//   magic (4: F0 46 52 59) | body_len (4) | type (1) | flags (1, 0) | reserved (2, 0) | body | crc32c (4)
// The CRC covers everything before it. The magic lets recovery find the next record after a
// damaged one; the CRC tells a real record from bytes that merely look like one.
// Pure functions over byte strings; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::store::record {

inline constexpr unsigned char magic[4] = {0xF0, 'F', 'R', 'Y'};
inline constexpr std::size_t frame_header = 12;  // magic, body_len, type, flags, reserved
inline constexpr std::size_t frame_trailer = 4;  // crc32c
inline constexpr std::size_t frame_overhead = frame_header + frame_trailer;
// A body longer than this is refused on write and taken for damage on read.
inline constexpr std::size_t max_body = 512u << 20;
inline constexpr std::uint32_t format_version = 1;

enum class type : std::uint8_t {
  segment_header = 1,  // version (4), reserved (4), base sequence (8); first in every segment
  message = 2,         // seq (8), ts (8), subject_len (2), headers_len (4), subject, headers, data
  tombstone = 3,       // seq (8): that message was removed
  purge_floor = 4,     // floor (8): every message below it was removed
  erased = 5,          // seq (8), zeros: a message record overwritten in place by remove(erase)
  // Not in segments: a JetStream consumer's files (docs/store-format.md, "Consumer state").
  consumer_state = 6,  // a snapshot of the consumer's state: opaque bytes (JSON), state.rec
  ack = 7,             // stream seq (8), consumer seq (8): one acknowledgement, acks.log
};

// Fixed body bytes of a message record before subject, headers and data.
inline constexpr std::size_t message_fixed = 22;
// Full size of the message record for these lengths.
constexpr std::size_t message_size(std::size_t subject, std::size_t headers, std::size_t data) {
  return frame_overhead + message_fixed + subject + headers + data;
}
inline constexpr std::size_t segment_header_size = frame_overhead + 16;
inline constexpr std::size_t seq_record_size = frame_overhead + 8;  // tombstone, purge_floor
inline constexpr std::size_t ack_record_size = frame_overhead + 16;

// Appends one record to `out`. REQUIRES: subject.size() <= 65535 and the body <= max_body.
void append_segment_header(std::string& out, std::uint64_t base_seq);
void append_message(std::string& out, std::uint64_t seq, std::int64_t ts_ns, std::string_view subject,
                    std::string_view headers, std::string_view data);
void append_tombstone(std::string& out, std::uint64_t seq);
void append_purge_floor(std::string& out, std::uint64_t floor);
// A record of type `t` whose body is `body` as it is (consumer_state).
void append_blob(std::string& out, type t, std::string_view body);
void append_ack(std::string& out, std::uint64_t stream_seq, std::uint64_t consumer_seq);
// Writes an erased record of exactly `size` bytes over `dst`. REQUIRES: size >= seq_record_size.
void write_erased(char* dst, std::size_t size, std::uint64_t seq);

enum class parse_status : std::uint8_t {
  ok,
  bad,  // no magic, a length beyond max_body or past the end of `in`, a bad CRC, an unknown type
};

struct frame {
  type kind = type::message;
  std::string_view body;
  std::size_t size = 0;  // of the whole record
};

// Parses the record at the start of `in`. A record cut short by the end of `in` is bad.
parse_status parse(std::string_view in, frame& out);

// Finds the first offset >= `from` in `in` where a valid record starts; npos if none.
std::size_t find_next(std::string_view in, std::size_t from);

struct message_view {
  std::uint64_t seq = 0;
  std::int64_t ts_ns = 0;
  std::string_view subject;
  std::string_view headers;
  std::string_view data;
};
// Decodes a message body; false if its lengths do not add up.
bool decode_message(std::string_view body, message_view& out);
// Decodes the leading 8-byte sequence of a tombstone, purge_floor or erased body.
bool decode_seq(std::string_view body, std::uint64_t& out);
struct segment_header_view {
  std::uint32_t version = 0;
  std::uint64_t base_seq = 0;
};
bool decode_segment_header(std::string_view body, segment_header_view& out);
bool decode_ack(std::string_view body, std::uint64_t& stream_seq, std::uint64_t& consumer_seq);

}  // namespace ferry::store::record
