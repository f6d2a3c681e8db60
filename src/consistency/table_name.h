// Checks on the table names the outbox, inbox and saga store are given (they are spliced into
// SQL, so only plain identifiers pass), and the wall clock the rows record.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/status.h"

namespace ferry::detail {

inline status check_table_name(std::string_view name, std::string_view what) {
  bool ok = !name.empty() && name.size() <= 48 && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (ok) return status::ok();
  return invalid_argument(std::string(what) + " \"" + std::string(name) +
                          "\": a table name is 1 to 48 letters, digits or '_', not starting with a digit");
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ferry::detail
