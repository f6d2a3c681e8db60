#include "base/number.h"

#include <cctype>
#include <limits>
#include <string>

namespace ferry {

result<std::uint64_t> parse_uint(std::string_view s, std::string_view what, std::uint64_t max) {
  const auto bad = [&](std::string_view why) {
    return invalid_argument("invalid " + std::string(what) + " \"" + std::string(s) + "\": " + std::string(why));
  };
  if (s.empty()) return bad("empty");
  if (s.front() == '-') return bad("must not be negative");
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return bad("not a whole number");
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (max - d) / 10) return bad("larger than " + std::to_string(max));
    n = n * 10 + d;
  }
  return n;
}

result<std::int64_t> parse_size(std::string_view s, bool allow_unlimited) {
  const auto bad = [&](std::string_view why) {
    return invalid_argument("invalid size \"" + std::string(s) + "\": " + std::string(why) +
                            (allow_unlimited ? " (use e.g. 1024, 512K, 10MB, 1GiB, -1 for unlimited)"
                                             : " (use e.g. 1024, 512K, 10MB, 1GiB)"));
  };
  if (allow_unlimited && s == "-1") return std::int64_t{-1};
  if (!s.empty() && s.front() == '-') return bad("must not be negative");
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0) return bad("no number");
  std::string unit(s.substr(i));
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() == 3 && unit[1] == 'I' && unit[2] == 'B') unit.resize(1);
  if (unit.size() == 2 && unit[1] == 'B' && unit[0] != 'B') unit.resize(1);
  int shift;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K") {
    shift = 10;
  } else if (unit == "M") {
    shift = 20;
  } else if (unit == "G") {
    shift = 30;
  } else if (unit == "T") {
    shift = 40;
  } else {
    return bad("unknown unit \"" + std::string(s.substr(i)) + "\"");
  }
  const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) >> shift;
  auto n = parse_uint(s.substr(0, i), "size", max);
  if (!n.is_ok()) return bad("too large");
  return static_cast<std::int64_t>(*n << shift);
}

}  // namespace ferry
