// RFC 3339 timestamps ("2024-05-01T12:00:00.123Z"): JetStream's API times and advisories, the
// CLI, dead-letter headers, CloudEvents time. The one implementation in the tree.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// UTC with a "Z", and as many fractional digits as needed (none for a whole second, up to 9).
std::string format_rfc3339(std::chrono::system_clock::time_point t);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t', 'z' and ' ' as separator
// accepted too); nullopt when malformed or out of range.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s);

// The same for nanoseconds since the Unix epoch (what JetStream stores).
std::string format_rfc3339(std::int64_t unix_ns);
std::optional<std::int64_t> parse_rfc3339_ns(std::string_view s);

}  // namespace ferry
