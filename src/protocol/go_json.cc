#include "protocol/go_json.h"

namespace ferry::protocol {

// <, > and & can only occur inside strings in JSON text, so escaping them afterwards is safe.
std::string go_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string go_json(const nlohmann::json& j) {
  return go_escape(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string go_json(const nlohmann::ordered_json& j) {
  return go_escape(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

std::string go_json_string(std::string_view s) { return go_json(nlohmann::json(std::string(s))); }

}  // namespace ferry::protocol
