// parser: the NATS client protocol, as a server reads it, in one state machine over a buffer.
//
// The parser owns the read buffer: a connection reads into prepare(), calls commit(), then
// process(handler), which calls the handler once per complete frame with views into the buffer
// (valid only during the call). A frame split across reads simply waits in the buffer for the
// rest; that is the one place where split frames are handled. Op names are case-insensitive,
// fields are separated by runs of SP/TAB, a control line ends at LF with an optional CR before
// it, and a payload must be followed by exactly CRLF (nats-server's parser.go).
//
// The handler is a template parameter (no virtual call per frame) and provides:
//   bool on_connect(std::string_view json);
//   bool on_pub(const pub_frame& f);                 // PUB and HPUB
//   bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid);
//   bool on_unsub(std::string_view sid, std::int64_t max);   // max < 0: none given
//   bool on_ping(); bool on_pong(); bool on_ok();
//   bool on_info(std::string_view json); bool on_err(std::string_view text);
// Returning false stops processing (process() returns parse_status::stopped).
// Not thread-safe: one connection, one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "base/byte_buffer.h"

namespace ferry::protocol {

struct parser_limits {
  std::size_t max_control_line = 4096;  // bytes of arguments on one control line
  std::size_t max_payload = 1048576;    // PUB size, or HPUB total size
};

enum class parse_status : std::uint8_t {
  need_more,              // every complete frame was handled; the rest waits for more bytes
  stopped,                // a handler returned false
  unknown_op,             // -ERR 'Unknown Protocol Operation', then close
  control_line_too_long,  // -ERR 'maximum control line exceeded', then close
  payload_too_large,      // -ERR 'Maximum Payload Violation', then close
  auth_required,          // first op is not CONNECT on a server with auth: -ERR + close
  bad_arguments,          // malformed arguments: close without -ERR, as nats-server does
  headers_not_supported,  // HPUB without headers:true in CONNECT: close without -ERR
};

// A published message. For PUB header_size is 0; for HPUB `data` starts with the header block.
// The two bytes after `data` are "\r\n" (checked), so data.data()[0, size+2) is the frame tail.
//
// Built for every PUB on the hot path: keep it at 96 bytes (the two flags share one word), since
// GCC clears a larger one with `rep stos`, whose start-up cost was most of a regression in core
// publish (docs/benchmarks.md, "raw-pub").
struct pub_frame {
  std::string_view subject;
  std::string_view reply;  // empty when absent
  std::size_t header_size = 0;
  bool hpub = false;
  // Server-made messages only: write the reply field even though it is empty (nats-server's
  // JetStream publish acks carry "MSG <subject> <sid>  <size>", two spaces).
  bool empty_reply_field = false;
  std::string_view data;
  // The size fields as the client wrote them ("01" stays "01"): nats-server echoes them
  // verbatim in the MSG frames it delivers. Empty for messages the server makes itself.
  std::string_view header_token;
  std::string_view size_token;
};
static_assert(sizeof(pub_frame) <= 96, "pub_frame is built per PUB: see above");

// Parses a decimal size as nats-server's parseSize does: 1..9 digits, else -1.
std::int64_t parse_size(std::string_view s);

class parser {
 public:
  explicit parser(parser_limits limits = {}) : limits_(limits) {}

  void set_limits(parser_limits limits) { limits_ = limits; }
  [[nodiscard]] const parser_limits& limits() const { return limits_; }
  // While set, the first op must be CONNECT (a server that requires auth). Cleared by the
  // parser after a CONNECT frame whose handler returned true.
  void set_require_connect(bool v) { require_connect_ = v; }
  // Whether HPUB is accepted (the client sent headers:true and the server supports them).
  void set_headers(bool v) { headers_ = v; }

  // Room for the next read: at least what the pending frame still needs.
  std::span<char> prepare();
  // Publishes `n` bytes written into the span from prepare().
  void commit(std::size_t n);
  // Bytes received but not yet consumed (a partial frame).
  [[nodiscard]] std::size_t buffered() const { return buf_.size(); }
  // Bytes of memory held by the buffer.
  [[nodiscard]] std::size_t capacity() const { return buf_.capacity(); }

  template <class Handler>
  parse_status process(Handler& h);

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t'; }
  // Case-insensitive match of lower-case ASCII letters `op` at the start of `line`.
  static bool starts_with_op(std::string_view line, std::string_view op) {
    if (line.size() < op.size()) return false;
    for (std::size_t i = 0; i < op.size(); ++i) {
      char c = line[i];
      if (op[i] >= 'a' && op[i] <= 'z') c = static_cast<char>(c | 0x20);
      if (c != op[i]) return false;
    }
    return true;
  }
  // Splits on runs of SP/TAB into at most 4 fields; returns the count (5 means too many).
  static std::size_t split(std::string_view s, std::array<std::string_view, 5>& out);
  // The arguments after an op name that must be followed by SP/TAB; false if it is not.
  static bool args_after(std::string_view line, std::size_t op_len, std::string_view& args);

  parser_limits limits_;
  byte_buffer buf_;
  std::size_t need_ = 0;        // bytes the frame at the front needs in all (0: unknown)
  std::size_t read_size_ = 512;  // adaptive size of the next read
  std::size_t last_prepared_ = 0;
  int short_reads_ = 0;
  bool require_connect_ = false;
  bool headers_ = false;
};

inline std::size_t parser::split(std::string_view s, std::array<std::string_view, 5>& out) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) break;
    std::size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (n == out.size()) return out.size();
    out[n++] = s.substr(start, i - start);
  }
  return n;
}

inline bool parser::args_after(std::string_view line, std::size_t op_len, std::string_view& args) {
  if (line.size() <= op_len || !is_space(line[op_len])) return false;
  args = line.substr(op_len + 1);
  return true;
}

template <class Handler>
parse_status parser::process(Handler& h) {
  for (;;) {
    const std::size_t avail = buf_.size();
    if (avail == 0) {
      need_ = 0;
      return parse_status::need_more;
    }
    const char* p = buf_.data();
    if (require_connect_ && (p[0] | 0x20) != 'c') return parse_status::auth_required;

    // Find the end of the control line. The limit applies to the arguments, so allow the op
    // name and separators on top of it before giving up.
    const std::size_t scan_limit = limits_.max_control_line + 64;
    const std::size_t scan = avail < scan_limit ? avail : scan_limit;
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', scan));
    if (nl == nullptr) {
      if (avail >= scan_limit) return parse_status::control_line_too_long;
      need_ = 0;
      return parse_status::need_more;
    }
    const std::size_t line_bytes = static_cast<std::size_t>(nl - p) + 1;
    std::string_view line(p, line_bytes - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    std::string_view args;
    bool ok = true;
    switch (p[0] | 0x20) {
      case 'p': {
        if (line.size() < 2) return parse_status::unknown_op;
        const char c1 = static_cast<char>(line[1] | 0x20);
        if (c1 == 'u') {
          if (!starts_with_op(line, "pub") || !args_after(line, 3, args)) return parse_status::unknown_op;
          if (args.size() > limits_.max_control_line) return parse_status::control_line_too_long;
          std::array<std::string_view, 5> f;
          const std::size_t n = split(args, f);
          if (n != 2 && n != 3) return parse_status::bad_arguments;
          const std::int64_t size = parse_size(f[n - 1]);
          if (size < 0) return parse_status::bad_arguments;
          if (static_cast<std::size_t>(size) > limits_.max_payload) return parse_status::payload_too_large;
          const std::size_t total = line_bytes + static_cast<std::size_t>(size) + 2;
          if (avail < total) {
            need_ = total;
            return parse_status::need_more;
          }
          const char* d = p + line_bytes;
          if (d[size] != '\r' || d[size + 1] != '\n') return parse_status::unknown_op;
          pub_frame fr;
          fr.subject = f[0];
          if (n == 3) fr.reply = f[1];
          fr.data = std::string_view(d, static_cast<std::size_t>(size));
          fr.size_token = f[n - 1];
          ok = h.on_pub(fr);
          buf_.consume(total);
          break;
        }
        if (c1 == 'i') {
          if (!starts_with_op(line, "ping")) return parse_status::unknown_op;
          ok = h.on_ping();
        } else if (c1 == 'o') {
          if (!starts_with_op(line, "pong")) return parse_status::unknown_op;
          ok = h.on_pong();
        } else {
          return parse_status::unknown_op;
        }
        buf_.consume(line_bytes);
        break;
      }
      case 'h': {
        // HPUB repeats PUB's payload checks on purpose: one helper for both (returning an
        // optional status, the frame built before the size check) cost 12-18% more server CPU
        // per message on raw-pub, side by side (docs/benchmarks.md, "raw-pub").
        if (!starts_with_op(line, "hpub") || !args_after(line, 4, args)) return parse_status::unknown_op;
        if (args.size() > limits_.max_control_line) return parse_status::control_line_too_long;
        if (!headers_) return parse_status::headers_not_supported;
        std::array<std::string_view, 5> f;
        const std::size_t n = split(args, f);
        if (n != 3 && n != 4) return parse_status::bad_arguments;
        const std::int64_t hdr = parse_size(f[n - 2]);
        const std::int64_t size = parse_size(f[n - 1]);
        if (hdr < 0 || size < 0 || hdr > size) return parse_status::bad_arguments;
        if (static_cast<std::size_t>(size) > limits_.max_payload) return parse_status::payload_too_large;
        const std::size_t total = line_bytes + static_cast<std::size_t>(size) + 2;
        if (avail < total) {
          need_ = total;
          return parse_status::need_more;
        }
        const char* d = p + line_bytes;
        if (d[size] != '\r' || d[size + 1] != '\n') return parse_status::unknown_op;
        pub_frame fr;
        fr.subject = f[0];
        if (n == 4) fr.reply = f[1];
        fr.hpub = true;
        fr.header_size = static_cast<std::size_t>(hdr);
        fr.data = std::string_view(d, static_cast<std::size_t>(size));
        fr.header_token = f[n - 2];
        fr.size_token = f[n - 1];
        ok = h.on_pub(fr);
        buf_.consume(total);
        break;
      }
      case 's': {
        if (!starts_with_op(line, "sub") || !args_after(line, 3, args)) return parse_status::unknown_op;
        if (args.size() > limits_.max_control_line) return parse_status::control_line_too_long;
        std::array<std::string_view, 5> f;
        const std::size_t n = split(args, f);
        if (n == 2) {
          ok = h.on_sub(f[0], std::string_view(), f[1]);
        } else if (n == 3) {
          ok = h.on_sub(f[0], f[1], f[2]);
        } else {
          return parse_status::bad_arguments;
        }
        buf_.consume(line_bytes);
        break;
      }
      case 'u': {
        if (!starts_with_op(line, "unsub") || !args_after(line, 5, args)) return parse_status::unknown_op;
        if (args.size() > limits_.max_control_line) return parse_status::control_line_too_long;
        std::array<std::string_view, 5> f;
        const std::size_t n = split(args, f);
        if (n == 1) {
          ok = h.on_unsub(f[0], -1);
        } else if (n == 2) {
          // nats-server does not reject a malformed max: it counts as none (unsubscribe now).
          ok = h.on_unsub(f[0], parse_size(f[1]));
        } else {
          return parse_status::bad_arguments;
        }
        buf_.consume(line_bytes);
        break;
      }
      case 'c': {
        if (!starts_with_op(line, "connect")) return parse_status::unknown_op;
        args = line.substr(7);
        while (!args.empty() && is_space(args.front())) args.remove_prefix(1);
        if (args.size() > limits_.max_control_line) return parse_status::control_line_too_long;
        ok = h.on_connect(args);
        if (ok) require_connect_ = false;
        buf_.consume(line_bytes);
        break;
      }
      case 'i': {
        if (!starts_with_op(line, "info")) return parse_status::unknown_op;
        args = line.substr(4);
        while (!args.empty() && is_space(args.front())) args.remove_prefix(1);
        if (args.size() > limits_.max_control_line) return parse_status::control_line_too_long;
        ok = h.on_info(args);
        buf_.consume(line_bytes);
        break;
      }
      default: {
        if (p[0] == '+') {
          if (!starts_with_op(line, "+ok")) return parse_status::unknown_op;
          ok = h.on_ok();
        } else if (p[0] == '-') {
          if (!starts_with_op(line, "-err") || !args_after(line, 4, args)) return parse_status::unknown_op;
          while (!args.empty() && is_space(args.front())) args.remove_prefix(1);
          ok = h.on_err(args);
        } else {
          return parse_status::unknown_op;
        }
        buf_.consume(line_bytes);
        break;
      }
    }
    if (!ok) return parse_status::stopped;
  }
}

}  // namespace ferry::protocol
