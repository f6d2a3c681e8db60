// config_parser: reads nats-server's configuration syntax into a tree of values that remember
// the file and line they came from, so that config_file.cc can name the place of any mistake.
//
// The syntax is nats-server's conf format (docs/configuration.md): `key: value`, `key = value`
// or `key value`; `{}` maps, `[]` arrays, `#` and `//` comments, quoted and bare strings,
// numbers with size suffixes, booleans, `include` and `$variables`. This layer knows no keys;
// it only builds the tree. Includes and variables are resolved here, so the tree holds plain
// values only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace ferry::broker {

// Where a key or value starts: the file as named to the user, and the 1-based line.
struct config_position {
  std::string file;
  int line = 0;
};

// Every config error is built here so that all read alike: "<file>:<line>: <what>", with code
// invalid_argument (e.g. `ferryd.conf:12: unknown field "foo"`).
status config_error(const config_position& at, std::string_view what);

enum class config_kind { string, integer, floating, boolean, datetime, array, map };

// "a string", "an integer", ...: for messages about a value of the wrong kind.
std::string_view config_kind_name(config_kind k);

struct config_entry;

struct config_value {
  config_kind kind = config_kind::string;
  config_position at;
  std::string text;          // string and datetime values; the source text of numbers
  std::int64_t integer = 0;  // size suffixes already applied (1KB is 1024)
  double floating = 0;
  bool boolean = false;
  std::vector<config_value> items;    // array elements
  std::vector<config_entry> entries;  // map entries in file order, keys unique (the last wins)
};

struct config_entry {
  std::string key;     // as written; nats-server compares keys without case
  config_position at;  // where the key is
  // True when a `$key` reference read this entry: nats-server does not report such keys as
  // unknown, since defining a variable is what they are for.
  bool used_as_variable = false;
  config_value value;
};

// Parses `text` into its top-level map. `origin` names the text in errors; `include` paths
// are resolved against `base_dir` (empty: the current directory). Reads included files, and
// the environment for `$NAME` references that no enclosing key defines.
result<config_value> parse_config(std::string_view text, const std::string& origin, const std::string& base_dir);

// Reads and parses the file at `path` (named as given in errors; includes are relative to its
// directory). A file that cannot be read gives an io_error.
result<config_value> parse_config_file(const std::string& path);

// `s` with its ASCII letters in lower case (keys and units are case-insensitive).
std::string ascii_lower(std::string_view s);

}  // namespace ferry::broker
