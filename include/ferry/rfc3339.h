// RFC 3339 timestamps ("2024-05-01T12:00:00.123Z"), for dead-letter headers and CloudEvents time.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::detail {

// UTC with a "Z", and as many fractional digits as needed (none for a whole second, up to 9).
std::string format_rfc3339(std::chrono::system_clock::time_point t);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t', 'z' and ' ' as separator
// accepted too); nullopt when malformed or out of range.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s);

}  // namespace ferry::detail
