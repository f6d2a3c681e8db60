// libFuzzer target: the parsers of user input in base (durations, sizes, numbers, subjects,
// names) never crash and keep their invariants: what they accept is well formed, the variants
// agree with each other, and the SDK's subject rule is never looser than the broker's.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/duration.h"
#include "base/number.h"
#include "base/subject_check.h"
#include "protocol/subject.h"

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

bool blank_or_control(unsigned char c) { return c <= ' ' || c == 0x7f; }

void durations(std::string_view s) {
  auto plain = ferry::parse_duration(s);
  auto go = ferry::parse_go_duration(s);
  auto bare = ferry::parse_duration(s, {.bare_number_unit = std::chrono::seconds(1)});
  if (plain.is_ok()) {
    require(plain->count() >= 0);
    require(bare.is_ok() && *bare == *plain);  // a unit-less number is the only difference
  } else {
    require(plain.status().code() == ferry::status_code::invalid_argument);
  }
  if (go.is_ok() && s.find('d') == std::string_view::npos && (s.empty() || s.front() != '-')) {
    require(plain.is_ok() && *plain == *go);
  }
  if (go.is_ok() && !s.empty() && s.front() == '-') require(go->count() <= 0);
}

void sizes(std::string_view s) {
  auto n = ferry::parse_size(s);
  auto unlimited = ferry::parse_size(s, true);
  if (n.is_ok()) {
    require(*n >= 0);
    require(unlimited.is_ok() && *unlimited == *n);
  }
  if (unlimited.is_ok() && *unlimited < 0) require(s == "-1");
  auto u = ferry::parse_uint(s, "n");
  if (u.is_ok()) {
    require(!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos);
    if (*u <= static_cast<std::uint64_t>(INT64_MAX)) require(n.is_ok() && static_cast<std::uint64_t>(*n) == *u);
  }
}

void subjects(std::string_view s) {
  const bool pub = ferry::check_subject(s, ferry::subject_use::publish).is_ok();
  const bool sub = ferry::check_subject(s, ferry::subject_use::subscribe).is_ok();
  if (pub) require(sub);
  if (sub) {
    require(!s.empty() && s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos);
    for (unsigned char c : s) require(!blank_or_control(c));
    require(ferry::protocol::is_valid_subject(s));  // never looser than what the broker accepts
  }
  if (pub) {
    require(s.find_first_of("*>") == std::string_view::npos);
    require(ferry::protocol::is_valid_literal_subject(s));
  }
  for (unsigned char c : ferry::printable(s)) require(!(c < 0x20 || c == 0x7f));
  require(ferry::check_name(s, "name").is_ok() == ferry::is_valid_name(s));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  durations(s);
  sizes(s);
  subjects(s);
  return 0;
}
