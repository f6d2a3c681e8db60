// The SQLite implementation of ferry::sql: a pool of connections to one file in WAL mode,
// synchronous=FULL (a committed transaction survives power loss), statements prepared once per
// connection.
#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "commit_signal.h"
#include "ferry/sql.h"
#include "pool.h"

namespace ferry::sql {

namespace {

status sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string m = "sqlite: " + std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) return already_exists(std::move(m));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable(std::move(m));
    case SQLITE_CONSTRAINT:  // CHECK, NOT NULL, FOREIGN KEY: the data breaks a rule, no duplicate
      return failed_precondition(std::move(m));
    case SQLITE_FULL:
      return resource_exhausted(std::move(m));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return data_loss(std::move(m));
    case SQLITE_ERROR:
      return invalid_argument(std::move(m));
    default:
      return io_error(std::move(m));
  }
}

// One connection and its prepared statements.
struct connection {
  ~connection() {
    for (auto& [sql, s] : statements) sqlite3_finalize(s);
    sqlite3_close(db);
  }
  result<sqlite3_stmt*> prepare(std::string_view sql) {
    auto it = statements.find(std::string(sql));
    if (it != statements.end()) return it->second;
    const std::string text = sqlite_placeholders(sql);
    sqlite3_stmt* s = nullptr;
    const int rc =
        sqlite3_prepare_v3(db, text.c_str(), static_cast<int>(text.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "prepare \"" + std::string(sql) + "\"");
    statements.emplace(std::string(sql), s);
    return s;
  }
  status exec_plain(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return status::ok();
    std::string m = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return sqlite_error(nullptr, rc, std::string(sql) + ": " + m);
  }

  sqlite3* db = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements;
};

// One commit signal per database file in this process, so a relay woken by commits sees those
// made through any database object on the same file.
std::shared_ptr<detail::commit_signal> signal_for(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<detail::commit_signal>> signals;
  std::error_code ec;
  std::string key = path == ":memory:" ? "" : std::filesystem::weakly_canonical(path, ec).string();
  if (key.empty()) return std::make_shared<detail::commit_signal>();
  std::lock_guard lock(mu);
  auto& w = signals[key];
  auto s = w.lock();
  if (!s) {
    s = std::make_shared<detail::commit_signal>();
    w = s;
  }
  return s;
}

class sqlite_database;

class sqlite_transaction final : public transaction {
 public:
  sqlite_transaction(sqlite_database* owner, std::unique_ptr<connection> c) : owner_(owner), c_(std::move(c)) {}
  ~sqlite_transaction() override { rollback(); }

  result<rows> query(std::string_view sql, std::initializer_list<param> params) override {
    rows out;
    FERRY_RETURN_IF_ERROR(run(sql, params, &out));
    return out;
  }
  result<std::int64_t> exec(std::string_view sql, std::initializer_list<param> params) override {
    FERRY_RETURN_IF_ERROR(run(sql, params, nullptr));
    return static_cast<std::int64_t>(sqlite3_changes64(c_->db));
  }
  status commit() override;
  void rollback() override;
  [[nodiscard]] dialect kind() const override { return dialect::sqlite; }
  status signal() override {
    signalled_ = true;
    return status::ok();
  }

 private:
  status run(std::string_view sql, std::initializer_list<param> params, rows* out) {
    if (!c_) return failed_precondition("sqlite: the transaction has ended");
    if (broken_) return failed_precondition("sqlite: the transaction was rolled back by SQLite after an error");
    status s = step(sql, params, out);
    // After some errors (disk full, I/O error, out of memory) SQLite rolls the whole transaction
    // back by itself: later statements would run in autocommit, each committed on its own.
    if (!s.is_ok() && sqlite3_get_autocommit(c_->db) != 0) broken_ = true;
    return s;
  }
  status step(std::string_view sql, std::initializer_list<param> params, rows* out) {
    FERRY_ASSIGN_OR_RETURN(sqlite3_stmt * s, c_->prepare(sql));
    struct reset {
      sqlite3_stmt* s;
      ~reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } scope{s};
    int i = 0;
    for (const param& p : params) {
      ++i;
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::int64_t>(p)) {
        rc = sqlite3_bind_int64(s, i, std::get<std::int64_t>(p));
      } else if (const auto* t = std::get_if<std::string_view>(&p)) {
        rc = sqlite3_bind_text64(s, i, t->data(), t->size(), SQLITE_STATIC, SQLITE_UTF8);
      } else if (const auto* b = std::get_if<blob>(&p)) {
        rc = sqlite3_bind_blob64(s, i, b->bytes.data(), b->bytes.size(), SQLITE_STATIC);
      } else {
        rc = sqlite3_bind_null(s, i);
      }
      if (rc != SQLITE_OK) return sqlite_error(c_->db, rc, "bind");
    }
    for (;;) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return status::ok();
      if (rc != SQLITE_ROW) return sqlite_error(c_->db, rc, std::string(sql));
      if (out == nullptr) continue;
      const int n = sqlite3_column_count(s);
      std::vector<std::optional<std::string>> cols(static_cast<std::size_t>(n));
      for (int k = 0; k < n; ++k) {
        if (sqlite3_column_type(s, k) == SQLITE_NULL) continue;
        const auto* data = static_cast<const char*>(sqlite3_column_blob(s, k));
        cols[static_cast<std::size_t>(k)].emplace(data == nullptr ? "" : std::string(data, sqlite3_column_bytes(s, k)));
      }
      out->emplace_back(std::move(cols));
    }
  }
  void give_back();

  sqlite_database* owner_;
  std::unique_ptr<connection> c_;
  bool signalled_ = false;
  bool broken_ = false;  // SQLite rolled the transaction back after an error
};

class sqlite_database final : public database {
 public:
  sqlite_database(std::string path, options o)
      : path_(std::move(path)),
        options_(std::move(o)),
        signal_(signal_for(path_)),
        // With ":memory:" every connection would be a new database: one connection.
        pool_(path_ == ":memory:" ? 1 : options_.pool_size, options_.busy_timeout, "sqlite " + path_,
              [this] { return connect(); }) {}
  ~sqlite_database() override = default;

  result<std::unique_ptr<connection>> connect() {
    auto c = std::make_unique<connection>();
    const int rc = sqlite3_open_v2(path_.c_str(), &c->db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(c->db, rc, "open " + path_);
    sqlite3_busy_timeout(c->db, static_cast<int>(options_.busy_timeout.count()));
    sqlite3_extended_result_codes(c->db, 1);  // a unique violation tells itself apart from a CHECK
    FERRY_RETURN_IF_ERROR(c->exec_plain("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
    return c;
  }

  result<std::unique_ptr<transaction>> begin() override {
    FERRY_ASSIGN_OR_RETURN(auto c, pool_.take());
    if (status s = c->exec_plain("BEGIN IMMEDIATE"); !s.is_ok()) {
      pool_.give_back(std::move(c));
      return s;
    }
    return std::unique_ptr<transaction>(new sqlite_transaction(this, std::move(c)));
  }
  [[nodiscard]] dialect kind() const override { return dialect::sqlite; }
  [[nodiscard]] std::string describe() const override { return "sqlite:" + path_; }
  bool wait_for_commit(std::chrono::milliseconds timeout) override { return signal_->wait(seen_, timeout); }
  void wake() override { signal_->notify(); }

  void give_back(std::unique_ptr<connection> c) { pool_.give_back(std::move(c)); }
  detail::commit_signal& commit_signal() { return *signal_; }
  status prime() { return pool_.prime(); }

 private:
  std::string path_;
  options options_;
  std::shared_ptr<detail::commit_signal> signal_;
  detail::connection_pool<connection> pool_;
  std::uint64_t seen_ = 0;  // signals this object's waiter has seen (guarded by the signal's lock)
};

status sqlite_transaction::commit() {
  if (!c_) return failed_precondition("sqlite: the transaction has ended");
  if (broken_) {
    rollback();
    return failed_precondition("sqlite: not committed: SQLite rolled the transaction back after an error");
  }
  if (status s = c_->exec_plain("COMMIT"); !s.is_ok()) {
    rollback();
    return s;
  }
  give_back();
  if (signalled_) owner_->commit_signal().notify();
  run_on_commit();
  return status::ok();
}

void sqlite_transaction::rollback() {
  if (!c_) return;
  if (sqlite3_get_autocommit(c_->db) == 0) (void)c_->exec_plain("ROLLBACK");
  give_back();
}

void sqlite_transaction::give_back() { owner_->give_back(std::move(c_)); }

}  // namespace

result<std::unique_ptr<database>> open_sqlite(const std::string& path, options o) {
  if (path.empty()) return invalid_argument("sqlite: empty path");
  auto db = std::make_unique<sqlite_database>(path, std::move(o));
  FERRY_RETURN_IF_ERROR(db->prime());
  return std::unique_ptr<database>(std::move(db));
}

}  // namespace ferry::sql
