// Message header blocks (ADR-4): "NATS/1.0[ <code>[ <description>]]\r\n" then "Name: value\r\n"
// lines, then "\r\n". Names keep their case and may repeat; the server passes blocks through
// byte for byte and, like nats-server, looks names up case-sensitively, first match wins.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::protocol {

inline constexpr std::string_view header_version = "NATS/1.0";

// The value of the first `name:` line in `block` with leading blanks trimmed; nullopt if absent.
std::optional<std::string_view> find_header(std::string_view block, std::string_view name);

// The status code on the first line (e.g. 503), or 0 when there is none or the block is not
// a valid header block.
int header_status(std::string_view block);
// The description after the status code ("No Messages"), empty when absent.
std::string_view header_description(std::string_view block);

// Every (name, value) pair in order. Malformed lines are skipped.
std::vector<std::pair<std::string_view, std::string_view>> parse_headers(std::string_view block);

// True if `block` starts with "NATS/1.0" and ends with an empty line.
bool is_header_block(std::string_view block);

// Builds a header block.
class header_builder {
 public:
  header_builder() { s_ = header_version; s_ += "\r\n"; }
  header_builder(int code, std::string_view description);
  header_builder& add(std::string_view name, std::string_view value);
  // Appends the lines of an existing block (everything after its first line, without the
  // final blank line).
  header_builder& add_block(std::string_view block);
  [[nodiscard]] std::string finish() const { return s_ + "\r\n"; }

 private:
  std::string s_;
};

}  // namespace ferry::protocol
