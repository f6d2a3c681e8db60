// sqlite_db: a small wrapper over one SQLite connection, for the shop's stores (orders,
// stock and reservations, notifications).
//
//   auto db = shop::sqlite_db::open(dir + "/inventory.db", "CREATE TABLE IF NOT EXISTS ...;");
//   db->exec("UPDATE stock SET available = available - ?1 WHERE sku = ?2", {qty, sku});
//   db->query("SELECT sku, available FROM stock", {}, [&](const shop::sqlite_row& r) { ... });
//   db->transaction([&] { ...; return ferry::status::ok(); });   // BEGIN IMMEDIATE ... COMMIT
//
// The database runs in WAL mode, so other processes (the sqlite3 shell, a test) may read it while
// a service writes. Statements are prepared once and cached by their text.
//
// Thread safety: none. A sqlite_db is used by one thread at a time; the stores that own one
// guard it with their mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "ferry/result.h"
#include "ferry/status.h"

namespace shop {

// A value bound to a statement's ?N parameter.
using sqlite_value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// One row of a query result; valid only inside the row callback.
class sqlite_row {
 public:
  explicit sqlite_row(sqlite3_stmt* s) : s_(s) {}
  [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(s_, column); }
  [[nodiscard]] double real(int column) const { return sqlite3_column_double(s_, column); }
  // The column as text; "" for NULL.
  [[nodiscard]] std::string text(int column) const;
  [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(s_, column) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_;
};

class sqlite_db {
 public:
  // Opens (creating it and its directory's file if needed) the database at `path`, switches it to
  // WAL mode and runs `schema` (statements separated by semicolons; make them idempotent).
  static ferry::result<std::unique_ptr<sqlite_db>> open(const std::string& path, std::string_view schema);
  ~sqlite_db();
  sqlite_db(const sqlite_db&) = delete;
  sqlite_db& operator=(const sqlite_db&) = delete;

  // Runs one statement that returns no rows, with `params` bound to ?1, ?2...
  ferry::status exec(std::string_view sql, std::initializer_list<sqlite_value> params = {});
  // Runs one query and calls `row` for each result row, in order.
  ferry::status query(std::string_view sql, std::initializer_list<sqlite_value> params,
                      const std::function<void(const sqlite_row&)>& row);
  // The first column of the first row as an integer; `fallback` when there is no row.
  ferry::result<std::int64_t> scalar(std::string_view sql, std::initializer_list<sqlite_value> params,
                                     std::int64_t fallback = 0);
  // Rows changed by the last exec().
  [[nodiscard]] std::int64_t changes() const;
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it returns an error (and
  // returns that error). REQUIRES: not already inside a transaction.
  ferry::status transaction(const std::function<ferry::status()>& body);

 private:
  explicit sqlite_db(sqlite3* db) : db_(db) {}
  // The cached statement for `sql`, prepared on first use, with `params` bound.
  ferry::result<sqlite3_stmt*> prepare(std::string_view sql, std::initializer_list<sqlite_value> params);
  ferry::status error(int rc, std::string_view what) const;

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace shop
