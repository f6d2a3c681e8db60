// duration: the one parser of durations written as text ("500ms", "1m30s", "2h", "1.5s"), for
// config files, JetStream API fields, command-line flags and transport URLs.
//
//   FERRY_ASSIGN_OR_RETURN(auto d, ferry::parse_duration("1m30s"));   // 90 s
//   ferry::parse_go_duration("-2s");                                  // Go semantics: -2 s
//
// The syntax is Go's time.ParseDuration: one or more decimal numbers, each with an optional
// fraction and a unit (ns, us, µs, ms, s, m, h), e.g. "1h2m3.5s"; "0" alone needs no unit. Values
// are exact (no floating point) and anything past the range of int64 nanoseconds (about 292 years)
// is an error, never a wrap-around.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "base/result.h"

namespace ferry {

struct duration_syntax {
  bool allow_negative = false;  // a leading '-' (Go allows it)
  bool allow_days = true;       // the unit "d" (24 h), which Go lacks
  // A bare number ("30") means this unit; nullopt: a bare number other than "0" is an error.
  std::optional<std::chrono::nanoseconds> bare_number_unit;
};

// Parses `s` as a duration; invalid_argument naming `s` and an example when it is not one.
result<std::chrono::nanoseconds> parse_duration(std::string_view s, duration_syntax syntax = {});

// Exactly Go's time.ParseDuration (negative allowed, no days, units required).
inline result<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  return parse_duration(s, {.allow_negative = true, .allow_days = false});
}

// Milliseconds of a parsed duration, rounded up (so "1us" is not zero).
std::chrono::milliseconds ceil_ms(std::chrono::nanoseconds d);

}  // namespace ferry
