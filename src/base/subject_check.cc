#include "base/subject_check.h"

#include <cstdio>

namespace ferry {

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\0':
        out += "\\0";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

namespace {
constexpr std::string_view name_forbidden = " \t\r\n\f.*>/\\";
constexpr std::size_t max_name = 255;
}  // namespace

bool is_valid_name(std::string_view name) {
  return !name.empty() && name.size() <= max_name && name.find_first_of(name_forbidden) == std::string_view::npos;
}

status check_name(std::string_view name, std::string_view what) {
  const auto bad = [&](const std::string& why) {
    return invalid_argument("invalid " + std::string(what) + " \"" + printable(name) + "\": " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > max_name) return bad("longer than " + std::to_string(max_name) + " bytes");
  const std::size_t at = name.find_first_of(name_forbidden);
  if (at == std::string_view::npos) return status::ok();
  const char c = name[at];
  if (c == '/' || c == '\\') return bad("path separators are not allowed in a name");
  if (c == '.' || c == '*' || c == '>') return bad(std::string("'") + c + "' is not allowed in a name");
  return bad("whitespace is not allowed in a name");
}

// On every publish of every transport: no allocation unless the subject is bad.
status check_subject(std::string_view subject, subject_use use) {
  std::size_t index = 1;
  const auto bad = [&](const std::string& why) {
    return invalid_argument("invalid subject \"" + printable(subject) + "\": " + why);
  };
  const auto where = [&] { return "token " + std::to_string(index); };
  if (subject.empty()) return bad("empty");
  std::size_t start = 0;
  for (;; ++index) {
    const std::size_t dot = subject.find('.', start);
    const bool last = dot == std::string_view::npos;
    const std::string_view token = subject.substr(start, last ? std::string_view::npos : dot - start);
    if (token.empty()) return bad("empty " + where() + " (two dots, or a dot at an end)");
    bool wildcard = false;  // one pass over the bytes (find_first_of would call memchr per byte)
    for (unsigned char c : token) {
      if (c <= ' ' || c == 0x7f) {
        if (c == ' ' || c == '\t' || c == '\f' || c == '\v') return bad("whitespace in " + where());
        return bad("control character in " + where());
      }
      wildcard |= c == '*' || c == '>';
    }
    if (use == subject_use::publish) {
      if (wildcard) {
        return bad("wildcard character in " + where() + " of a published subject (wildcards are for subscriptions)");
      }
    } else if (token == ">" && !last) {
      return bad("'>' must be the last token");
    }
    if (last) return status::ok();
    start = dot + 1;
  }
}

}  // namespace ferry
