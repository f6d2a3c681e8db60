#include "store/record.h"

#include <cstring>

#include "base/check.h"
#include "store/crc32c.h"

namespace ferry::store::record {

namespace {

void put16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
void put32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void put64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
std::uint16_t get16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(u[0] | (u[1] << 8));
}
std::uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t{u[0]} | (std::uint32_t{u[1]} << 8) | (std::uint32_t{u[2]} << 16) | (std::uint32_t{u[3]} << 24);
}
std::uint64_t get64(const char* p) { return std::uint64_t{get32(p)} | (std::uint64_t{get32(p + 4)} << 32); }

// Appends the frame header for a body of `body_len` bytes; returns the record's offset in `out`.
std::size_t begin(std::string& out, type t, std::size_t body_len) {
  FERRY_CHECK(body_len <= max_body);
  const std::size_t at = out.size();
  out.resize(at + frame_header);
  char* p = out.data() + at;
  std::memcpy(p, magic, 4);
  put32(p + 4, static_cast<std::uint32_t>(body_len));
  p[8] = static_cast<char>(t);
  p[9] = 0;
  p[10] = 0;
  p[11] = 0;
  return at;
}

void finish(std::string& out, std::size_t at) {
  const std::uint32_t crc = crc32c_extend(0, out.data() + at, out.size() - at);
  out.resize(out.size() + frame_trailer);
  put32(out.data() + out.size() - frame_trailer, crc);
}

void append_seq_record(std::string& out, type t, std::uint64_t v) {
  const std::size_t at = begin(out, t, 8);
  char b[8];
  put64(b, v);
  out.append(b, 8);
  finish(out, at);
}

bool known(std::uint8_t t) { return t >= 1 && t <= 7; }

}  // namespace

void append_segment_header(std::string& out, std::uint64_t base_seq) {
  const std::size_t at = begin(out, type::segment_header, 16);
  char b[16];
  put32(b, format_version);
  put32(b + 4, 0);
  put64(b + 8, base_seq);
  out.append(b, 16);
  finish(out, at);
}

void append_message(std::string& out, std::uint64_t seq, std::int64_t ts_ns, std::string_view subject,
                    std::string_view headers, std::string_view data) {
  FERRY_CHECK(subject.size() <= 0xFFFF);
  const std::size_t at = begin(out, type::message, message_fixed + subject.size() + headers.size() + data.size());
  char b[message_fixed];
  put64(b, seq);
  put64(b + 8, static_cast<std::uint64_t>(ts_ns));
  put16(b + 16, static_cast<std::uint16_t>(subject.size()));
  put32(b + 18, static_cast<std::uint32_t>(headers.size()));
  out.append(b, message_fixed);
  out.append(subject);
  out.append(headers);
  out.append(data);
  finish(out, at);
}

void append_tombstone(std::string& out, std::uint64_t seq) { append_seq_record(out, type::tombstone, seq); }

void append_purge_floor(std::string& out, std::uint64_t floor) { append_seq_record(out, type::purge_floor, floor); }

void append_blob(std::string& out, type t, std::string_view body) {
  const std::size_t at = begin(out, t, body.size());
  out.append(body);
  finish(out, at);
}

void append_ack(std::string& out, std::uint64_t stream_seq, std::uint64_t consumer_seq) {
  const std::size_t at = begin(out, type::ack, 16);
  char b[16];
  put64(b, stream_seq);
  put64(b + 8, consumer_seq);
  out.append(b, 16);
  finish(out, at);
}

void write_erased(char* dst, std::size_t size, std::uint64_t seq) {
  FERRY_CHECK(size >= seq_record_size && size - frame_overhead <= max_body);
  std::memset(dst, 0, size);
  std::memcpy(dst, magic, 4);
  put32(dst + 4, static_cast<std::uint32_t>(size - frame_overhead));
  dst[8] = static_cast<char>(type::erased);
  put64(dst + frame_header, seq);
  put32(dst + size - frame_trailer, crc32c_extend(0, dst, size - frame_trailer));
}

parse_status parse(std::string_view in, frame& out) {
  if (in.size() < frame_overhead || std::memcmp(in.data(), magic, 4) != 0) return parse_status::bad;
  const std::uint32_t body_len = get32(in.data() + 4);
  if (body_len > max_body || in.size() - frame_overhead < body_len) return parse_status::bad;
  const auto t = static_cast<std::uint8_t>(in[8]);
  if (!known(t) || in[9] != 0 || in[10] != 0 || in[11] != 0) return parse_status::bad;
  const std::size_t size = frame_overhead + body_len;
  if (crc32c_extend(0, in.data(), size - frame_trailer) != get32(in.data() + size - frame_trailer)) {
    return parse_status::bad;
  }
  out.kind = static_cast<type>(t);
  out.body = in.substr(frame_header, body_len);
  out.size = size;
  return parse_status::ok;
}

std::size_t find_next(std::string_view in, std::size_t from) {
  const std::string_view m(reinterpret_cast<const char*>(magic), 4);
  for (std::size_t at = in.find(m, from); at != std::string_view::npos; at = in.find(m, at + 1)) {
    frame f;
    if (parse(in.substr(at), f) == parse_status::ok) return at;
  }
  return std::string_view::npos;
}

bool decode_message(std::string_view body, message_view& out) {
  if (body.size() < message_fixed) return false;
  const char* p = body.data();
  out.seq = get64(p);
  out.ts_ns = static_cast<std::int64_t>(get64(p + 8));
  const std::size_t slen = get16(p + 16);
  const std::size_t hlen = get32(p + 18);
  const std::size_t rest = body.size() - message_fixed;
  if (slen > rest || hlen > rest - slen) return false;
  out.subject = body.substr(message_fixed, slen);
  out.headers = body.substr(message_fixed + slen, hlen);
  out.data = body.substr(message_fixed + slen + hlen);
  return true;
}

bool decode_seq(std::string_view body, std::uint64_t& out) {
  if (body.size() < 8) return false;
  out = get64(body.data());
  return true;
}

bool decode_ack(std::string_view body, std::uint64_t& stream_seq, std::uint64_t& consumer_seq) {
  if (body.size() != 16) return false;
  stream_seq = get64(body.data());
  consumer_seq = get64(body.data() + 8);
  return true;
}

bool decode_segment_header(std::string_view body, segment_header_view& out) {
  if (body.size() != 16) return false;
  out.version = get32(body.data());
  out.base_seq = get64(body.data() + 8);
  return true;
}

}  // namespace ferry::store::record
