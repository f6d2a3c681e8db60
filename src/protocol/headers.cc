#include "protocol/headers.h"

#include <charconv>

namespace ferry::protocol {

std::optional<std::string_view> find_header(std::string_view block, std::string_view name) {
  std::size_t pos = 0;
  for (;;) {
    pos = block.find("\r\n", pos);
    if (pos == std::string_view::npos) return std::nullopt;
    pos += 2;
    if (block.size() - pos < name.size() + 1) return std::nullopt;
    if (block.compare(pos, name.size(), name) == 0 && block[pos + name.size()] == ':') {
      std::size_t v = pos + name.size() + 1;
      while (v < block.size() && (block[v] == ' ' || block[v] == '\t')) ++v;
      std::size_t end = block.find("\r\n", v);
      if (end == std::string_view::npos) end = block.size();
      return block.substr(v, end - v);
    }
  }
}

bool is_header_block(std::string_view block) {
  return block.size() >= header_version.size() + 4 && block.substr(0, header_version.size()) == header_version &&
         block.substr(block.size() - 4) == "\r\n\r\n";
}

int header_status(std::string_view block) {
  if (block.substr(0, header_version.size()) != header_version) return 0;
  std::string_view rest = block.substr(header_version.size());
  if (rest.size() < 4 || rest[0] != ' ') return 0;
  int code = 0;
  auto r = std::from_chars(rest.data() + 1, rest.data() + 4, code);
  if (r.ec != std::errc() || r.ptr != rest.data() + 4) return 0;
  return code;
}

std::string_view header_description(std::string_view block) {
  if (header_status(block) == 0) return {};
  std::string_view rest = block.substr(header_version.size() + 4);
  std::size_t end = rest.find("\r\n");
  if (end == std::string_view::npos) return {};
  rest = rest.substr(0, end);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

std::vector<std::pair<std::string_view, std::string_view>> parse_headers(std::string_view block) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::size_t pos = block.find("\r\n");
  while (pos != std::string_view::npos) {
    pos += 2;
    std::size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;
    std::string_view line = block.substr(pos, end - pos);
    std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      out.emplace_back(line.substr(0, colon), value);
    }
    pos = end;
  }
  return out;
}

header_builder::header_builder(int code, std::string_view description) {
  s_ = header_version;
  s_ += ' ';
  s_ += std::to_string(code);
  if (!description.empty()) {
    s_ += ' ';
    s_ += description;
  }
  s_ += "\r\n";
}

header_builder& header_builder::add(std::string_view name, std::string_view value) {
  s_ += name;
  s_ += ": ";
  s_ += value;
  s_ += "\r\n";
  return *this;
}

header_builder& header_builder::add_block(std::string_view block) {
  std::size_t first = block.find("\r\n");
  if (first == std::string_view::npos) return *this;
  std::string_view lines = block.substr(first + 2);
  if (lines.size() >= 2 && lines.substr(lines.size() - 2) == "\r\n") lines.remove_suffix(2);
  s_ += lines;
  return *this;
}

}  // namespace ferry::protocol
