// Checks on the table names the outbox, inbox and saga store are given (they are spliced into
// SQL, so only plain identifiers pass), and the wall clock the rows record.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/result.h"
#include "ferry/sql.h"
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

// Runs one statement of a store's schema. On PostgreSQL "CREATE INDEX IF NOT EXISTS <name> ..."
// runs only when no relation of that name exists: PostgreSQL takes the table's SHARE lock before
// it finds the index there, so the statement would wait for every open transaction that wrote to
// the table and hold up every writer queued behind it (a relay starting while a business
// transaction is open stalled all of them).
inline status run_schema_statement(sql::transaction& tx, std::string_view statement) {
  constexpr std::string_view create_index = "CREATE INDEX IF NOT EXISTS ";
  if (tx.kind() == sql::dialect::postgres && statement.starts_with(create_index)) {
    std::string_view name = statement.substr(create_index.size());
    name = name.substr(0, name.find(' '));
    FERRY_ASSIGN_OR_RETURN(sql::rows found, tx.query("SELECT 1 WHERE to_regclass($1) IS NOT NULL", {name}));
    if (!found.empty()) return status::ok();
  }
  return tx.exec(statement).status();
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ferry::detail
