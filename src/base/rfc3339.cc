#include "base/rfc3339.h"

#include <cstdio>

namespace ferry {

using namespace std::chrono;

std::string format_rfc3339(system_clock::time_point t) {
  const auto ns = duration_cast<nanoseconds>(t.time_since_epoch());
  auto day = floor<days>(ns);
  const year_month_day ymd{sys_days(day)};
  auto rest = ns - day;
  const auto h = duration_cast<hours>(rest);
  rest -= h;
  const auto m = duration_cast<minutes>(rest);
  rest -= m;
  const auto s = duration_cast<seconds>(rest);
  rest -= s;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02u%c%02d:%02d:%02lld", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), 'T',
                        static_cast<int>(h.count()), static_cast<int>(m.count()), static_cast<long long>(s.count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (long long frac = rest.count(); frac > 0) {
    char digits[24];  // frac < 1e9: 9 digits; room for any long long keeps -Wformat-truncation quiet
    std::snprintf(digits, sizeof digits, "%09lld", frac);
    std::string_view d(digits, 9);
    while (d.back() == '0') d.remove_suffix(1);
    out += '.';
    out += d;
  }
  out += 'Z';
  return out;
}

namespace {

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, std::string_view any_of) {
  if (pos >= s.size() || any_of.find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<system_clock::time_point> parse_rfc3339(std::string_view s) {
  std::size_t pos = 0;
  int y, mo, d, h, mi, se;
  if (!digits(s, pos, 4, y) || !expect(s, pos, "-") || !digits(s, pos, 2, mo) || !expect(s, pos, "-") ||
      !digits(s, pos, 2, d) || !expect(s, pos, "Tt ") || !digits(s, pos, 2, h) || !expect(s, pos, ":") ||
      !digits(s, pos, 2, mi) || !expect(s, pos, ":") || !digits(s, pos, 2, se))
    return std::nullopt;
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;  // 60: a leap second
  nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    long long v = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) {
        v = v * 10 + (s[pos] - '0');
        ++n;
      }
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (int i = n; i < 9; ++i) v *= 10;
    frac = nanoseconds(v);
  }
  minutes offset{0};
  if (expect(s, pos, "Zz")) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos++] == '-' ? -1 : 1;
    int oh, om;
    if (!digits(s, pos, 2, oh) || !expect(s, pos, ":") || !digits(s, pos, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = minutes(sign * (oh * 60 + om));
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(se) + frac - offset;
  return time_point_cast<system_clock::duration>(t);
}

std::string format_rfc3339(std::int64_t unix_ns) {
  return format_rfc3339(system_clock::time_point(nanoseconds(unix_ns)));
}

std::optional<std::int64_t> parse_rfc3339_ns(std::string_view s) {
  const auto t = parse_rfc3339(s);
  if (!t) return std::nullopt;
  return duration_cast<nanoseconds>(t->time_since_epoch()).count();
}

}  // namespace ferry
