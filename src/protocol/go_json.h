// JSON text as nats-server's Go encoder writes it: like nlohmann's dump(), but with <, > and &
// escaped as \u003c, \u003e and \u0026 (Go's HTML-safe default), so that replies compare
// byte for byte ("orders.\u003e").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ferry::protocol {

std::string go_json(const nlohmann::json& j);
std::string go_json(const nlohmann::ordered_json& j);
// JSON text `s` with <, > and & escaped as \u003c, \u003e and \u0026 (Go's HTML-safe output).
std::string go_escape(std::string_view s);
// A JSON string literal for `s`, with quotes, escaped as Go does.
std::string go_json_string(std::string_view s);

}  // namespace ferry::protocol
