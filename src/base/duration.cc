#include "base/duration.h"

#include <cstdint>
#include <limits>
#include <string>

namespace ferry {
namespace {

__extension__ typedef __int128 i128;  // exact sums of nanoseconds past int64
constexpr i128 max_ns = std::numeric_limits<std::int64_t>::max();

struct unit {
  std::string_view name;
  std::int64_t ns;
};
constexpr unit units[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs, micro sign
    {"\xCE\xBCs", 1'000},  // μs, Greek mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
    {"d", 86'400'000'000'000},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One "<digits>[.<digits>]" at the front of `s`, as whole and fraction parts; false if there is
// no digit or the whole part overflows.
bool take_number(std::string_view& s, i128& whole, i128& frac, i128& frac_scale) {
  std::size_t i = 0;
  bool digits = false;
  whole = 0;
  for (; i < s.size() && is_digit(s[i]); ++i, digits = true) {
    whole = whole * 10 + (s[i] - '0');
    if (whole > max_ns) return false;
  }
  frac = 0;
  frac_scale = 1;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && is_digit(s[i]); ++i, digits = true) {
      if (frac_scale < static_cast<i128>(1'000'000'000'000'000'000LL)) {  // further digits are below 1 ns
        frac = frac * 10 + (s[i] - '0');
        frac_scale *= 10;
      }
    }
  }
  s.remove_prefix(i);
  return digits;
}

}  // namespace

result<std::chrono::nanoseconds> parse_duration(std::string_view text, duration_syntax syntax) {
  const auto bad = [&](std::string_view why) {
    return invalid_argument("invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                            " (use e.g. 500ms, 30s, 1m30s, 2h)");
  };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    if (negative && !syntax.allow_negative) return bad("must not be negative");
    s.remove_prefix(1);
  }
  if (s.empty()) return bad("empty");
  if (s == "0") return std::chrono::nanoseconds(0);
  i128 total = 0;
  bool first = true;
  while (!s.empty()) {
    i128 whole = 0, frac = 0, scale = 1;
    if (!take_number(s, whole, frac, scale))
      return bad(s.empty() || !is_digit(s[0]) ? "expected a number" : "too large");
    std::size_t u = 0;
    while (u < s.size() && s[u] != '.' && !is_digit(s[u])) ++u;
    const std::string_view name = s.substr(0, u);
    s.remove_prefix(u);
    std::int64_t size = 0;
    if (name.empty()) {
      if (!first || !s.empty() || !syntax.bare_number_unit) return bad("missing unit");
      size = syntax.bare_number_unit->count();
    }
    for (const unit& un : units) {
      if (name == un.name && (un.name != "d" || syntax.allow_days)) size = un.ns;
    }
    if (size == 0) return bad("unknown unit \"" + std::string(name) + "\"");
    total += whole * size + frac * size / scale;
    if (total > max_ns) return bad("too large");
    first = false;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(negative ? -total : total));
}

std::chrono::milliseconds ceil_ms(std::chrono::nanoseconds d) {
  return std::chrono::ceil<std::chrono::milliseconds>(d);
}

}  // namespace ferry
