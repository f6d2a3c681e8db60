// libFuzzer target: arbitrary bytes, split into reads at fuzzer-chosen offsets, through the
// protocol parser. Checks that it never crashes, never reads outside its buffer (ASan), and
// that splitting the input never changes what it parses.
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>

#include "protocol/parser.h"

namespace {

struct recorder {
  std::string log;
  bool on_connect(std::string_view j) { return add("C", j); }
  bool on_pub(const ferry::protocol::pub_frame& f) {
    if (f.data.data()[f.data.size()] != '\r' || f.data.data()[f.data.size() + 1] != '\n') __builtin_trap();
    if (f.header_size > f.data.size()) __builtin_trap();
    add("P", f.subject);
    add("R", f.reply);
    return add("D", f.data);
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) {
    add("S", s);
    add("Q", q);
    return add("I", sid);
  }
  bool on_unsub(std::string_view sid, std::int64_t max) { return add("U", std::string(sid) + std::to_string(max)); }
  bool on_ping() { return add("PI", ""); }
  bool on_pong() { return add("PO", ""); }
  bool on_ok() { return add("OK", ""); }
  bool on_info(std::string_view j) { return add("IN", j); }
  bool on_err(std::string_view t) {
    add("E", t);
    return false;
  }
  bool add(std::string_view tag, std::string_view v) {
    log += tag;
    log += std::to_string(v.size());
    log += ':';
    log += v;
    return true;
  }
};

std::pair<std::string, int> run(const std::uint8_t* data, std::size_t size, std::size_t step) {
  ferry::protocol::parser_limits limits;
  limits.max_payload = 4096;
  limits.max_control_line = 256;
  ferry::protocol::parser p(limits);
  p.set_headers(true);
  recorder r;
  std::size_t off = 0;
  ferry::protocol::parse_status st = ferry::protocol::parse_status::need_more;
  while (off < size) {
    std::span<char> w = p.prepare();
    std::size_t n = std::min({w.size(), size - off, step});
    std::memcpy(w.data(), data + off, n);
    p.commit(n);
    off += n;
    st = p.process(r);
    if (st != ferry::protocol::parse_status::need_more) break;
  }
  return {r.log, static_cast<int>(st)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 17;
  auto whole = run(data + 1, size - 1, size);
  auto split = run(data + 1, size - 1, step);
  if (whole != split) __builtin_trap();
  return 0;
}
