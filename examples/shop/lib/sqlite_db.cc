#include "sqlite_db.h"

#include <string>
#include <utility>

namespace shop {

namespace {

// Resets a statement (and clears its bindings) when the scope ends, so the cached statement is
// ready for its next use whatever happened.
class reset_on_exit {
 public:
  explicit reset_on_exit(sqlite3_stmt* s) : s_(s) {}
  ~reset_on_exit() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  reset_on_exit(const reset_on_exit&) = delete;
  reset_on_exit& operator=(const reset_on_exit&) = delete;

 private:
  sqlite3_stmt* s_;
};

}  // namespace

std::string sqlite_row::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, column));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, column)));
}

ferry::result<std::unique_ptr<sqlite_db>> sqlite_db::open(const std::string& path, std::string_view schema) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite_db> db(new sqlite_db(raw));
  if (rc != SQLITE_OK) return db->error(rc, "open " + path);
  sqlite3_busy_timeout(raw, 5'000);
  const std::string setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; " + std::string(schema);
  char* msg = nullptr;
  if (sqlite3_exec(raw, setup.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string what = msg != nullptr ? msg : "unknown error";
    sqlite3_free(msg);
    return ferry::io_error("sqlite: schema of " + path + ": " + what);
  }
  return db;
}

sqlite_db::~sqlite_db() {
  for (auto& [sql, s] : statements_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

ferry::status sqlite_db::error(int rc, std::string_view what) const {
  std::string m = "sqlite: " + std::string(what) + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return ferry::unavailable(std::move(m));
  return ferry::io_error(std::move(m));
}

ferry::result<sqlite3_stmt*> sqlite_db::prepare(std::string_view sql, std::initializer_list<sqlite_value> params) {
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    sqlite3_stmt* s = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return error(rc, "prepare " + std::string(sql));
    it = statements_.emplace(std::string(sql), s).first;
  }
  sqlite3_stmt* s = it->second;
  int i = 1;
  for (const sqlite_value& v : params) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::int64_t>(v)) {
      rc = sqlite3_bind_int64(s, i, std::get<std::int64_t>(v));
    } else if (std::holds_alternative<double>(v)) {
      rc = sqlite3_bind_double(s, i, std::get<double>(v));
    } else if (std::holds_alternative<std::string>(v)) {
      const std::string& t = std::get<std::string>(v);
      rc = sqlite3_bind_text(s, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
    } else {
      rc = sqlite3_bind_null(s, i);
    }
    if (rc != SQLITE_OK) {
      sqlite3_clear_bindings(s);
      return error(rc, "bind");
    }
    ++i;
  }
  return s;
}

ferry::status sqlite_db::exec(std::string_view sql, std::initializer_list<sqlite_value> params) {
  FERRY_ASSIGN_OR_RETURN(sqlite3_stmt * s, prepare(sql, params));
  reset_on_exit reset(s);
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return error(rc, sql);
  return ferry::status::ok();
}

ferry::status sqlite_db::query(std::string_view sql, std::initializer_list<sqlite_value> params,
                               const std::function<void(const sqlite_row&)>& row) {
  FERRY_ASSIGN_OR_RETURN(sqlite3_stmt * s, prepare(sql, params));
  reset_on_exit reset(s);
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return ferry::status::ok();
    if (rc != SQLITE_ROW) return error(rc, sql);
    row(sqlite_row(s));
  }
}

ferry::result<std::int64_t> sqlite_db::scalar(std::string_view sql, std::initializer_list<sqlite_value> params,
                                              std::int64_t fallback) {
  std::int64_t v = fallback;
  FERRY_RETURN_IF_ERROR(query(sql, params, [&](const sqlite_row& r) { v = r.integer(0); }));
  return v;
}

std::int64_t sqlite_db::changes() const { return sqlite3_changes64(db_); }

ferry::status sqlite_db::transaction(const std::function<ferry::status()>& body) {
  FERRY_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  ferry::status s;
  try {
    s = body();
  } catch (...) {
    (void)exec("ROLLBACK");
    throw;  // not ours to handle: the caller's recoverer logs it
  }
  if (s.is_ok()) s = exec("COMMIT");
  if (!s.is_ok()) (void)exec("ROLLBACK");  // the error that made us roll back is what matters
  return s;
}

}  // namespace shop
