// Transparent hashing for unordered maps keyed by std::string, so that lookups by
// std::string_view do not allocate: std::unordered_map<std::string, V, string_hash, std::equal_to<>>.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ferry {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  std::size_t operator()(const std::string& s) const { return std::hash<std::string_view>{}(s); }
  std::size_t operator()(const char* s) const { return std::hash<std::string_view>{}(s); }
};

template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

}  // namespace ferry
