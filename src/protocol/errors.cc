#include "protocol/errors.h"

#include <array>

namespace ferry::protocol {

namespace {
// Indexed by client_error; order must match the enum.
constexpr std::array<client_error_info, 13> table{{
    {"Unknown Protocol Operation", true},
    {"Authorization Violation", true},
    {"Authentication Timeout", true},
    {"Maximum Payload Violation", true},
    {"maximum control line exceeded", true},
    {"invalid client protocol", true},
    {"no responders requires headers support", true},
    {"maximum connections exceeded", true},
    {"Stale Connection", true},
    {"Secure Connection - TLS Required", true},
    {"Invalid Subject", false},
    {"Invalid Publish Subject", false},
    {"maximum subscriptions exceeded", false},
}};
static_assert(table.size() == static_cast<std::size_t>(client_error::maximum_subscriptions_exceeded) + 1);
}  // namespace

const client_error_info& describe(client_error e) { return table[static_cast<std::size_t>(e)]; }

std::string err_frame(std::string_view text) {
  std::string s;
  s.reserve(text.size() + 10);
  s += "-ERR '";
  s += text;
  s += "'\r\n";
  return s;
}

std::string go_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through, as Go keeps printable runes
        }
    }
  }
  out += '"';
  return out;
}

std::string publish_violation(std::string_view subject) {
  return err_frame("Permissions Violation for Publish to " + go_quote(subject));
}

std::string reply_violation(std::string_view reply) {
  return err_frame("Permissions Violation for Publish with Reply of " + go_quote(reply));
}

std::string subscribe_violation(std::string_view subject, std::string_view queue) {
  std::string text = "Permissions Violation for Subscription to " + go_quote(subject);
  if (!queue.empty()) text += " using queue " + go_quote(queue);
  return err_frame(text);
}

}  // namespace ferry::protocol
