// Small ASCII text helpers shared by the sdk (header names compare case-insensitively where
// HTTP-derived conventions say so: Content-Type, ce- attributes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ferry/message.h"

namespace ferry::detail {

inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// The first value of header `name`, compared case-insensitively.
inline std::optional<std::string_view> header_ci(const header_map& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (iequals(k, name)) return std::string_view(v);
  return std::nullopt;
}

// True for a structured-mode CloudEvent content type ("application/cloudevents+json; ...").
inline bool is_structured_cloudevent(std::string_view content_type) {
  return istarts_with(content_type, "application/cloudevents");
}

}  // namespace ferry::detail
