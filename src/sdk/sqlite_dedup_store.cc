#include <sqlite3.h>

#include <mutex>
#include <optional>

#include "ferry/dedup.h"

namespace ferry {

namespace {

using std::chrono::milliseconds;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

status sqlite_status(sqlite3* db, int rc, std::string_view what) {
  std::string m = "sqlite dedup store: " + std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return unavailable(std::move(m));
  return io_error(std::move(m));
}

// A prepared statement, reset (and its bindings cleared) when the scope ends.
class statement_scope {
 public:
  explicit statement_scope(sqlite3_stmt* s) : s_(s) {}
  ~statement_scope() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  statement_scope(const statement_scope&) = delete;
  statement_scope& operator=(const statement_scope&) = delete;

 private:
  sqlite3_stmt* s_;
};

constexpr const char* kSchema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS ferry_dedup ("
    "  key TEXT PRIMARY KEY,"
    "  committed INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL"
    ") WITHOUT ROWID;";

}  // namespace

struct sqlite_dedup_store::impl {
  ~impl() {
    for (sqlite3_stmt* s : {begin, commit_tx, rollback, find, put, set_committed, remove, purge}) sqlite3_finalize(s);
    sqlite3_close(db);
  }

  status prepare(const char* sql, sqlite3_stmt** out) {
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr);
    return rc == SQLITE_OK ? status::ok() : sqlite_status(db, rc, "prepare");
  }

  // Runs a statement that returns no rows.
  status run(sqlite3_stmt* s, std::string_view what) {
    statement_scope scope(s);
    const int rc = sqlite3_step(s);
    return rc == SQLITE_DONE ? status::ok() : sqlite_status(db, rc, what);
  }

  // Every `purge_every` writes, deletes the expired rows. REQUIRES: mu held.
  void maybe_purge() {
    if (options.purge_every == 0 || ++writes % options.purge_every != 0) return;
    sqlite3_bind_int64(purge, 1, wall_ms());
    (void)run(purge, "purge");  // best effort: expired rows are ignored anyway
  }

  sqlite_dedup_options options;
  std::mutex mu;  // guards the connection and its statements
  sqlite3* db = nullptr;
  sqlite3_stmt *begin = nullptr, *commit_tx = nullptr, *rollback = nullptr, *find = nullptr, *put = nullptr,
               *set_committed = nullptr, *remove = nullptr, *purge = nullptr;
  std::uint64_t writes = 0;
};

result<std::unique_ptr<sqlite_dedup_store>> sqlite_dedup_store::open(const std::string& path,
                                                                     sqlite_dedup_options options) {
  auto d = std::make_unique<impl>();
  d->options = options;
  int rc =
      sqlite3_open_v2(path.c_str(), &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return sqlite_status(d->db, rc, "open " + path);
  sqlite3_busy_timeout(d->db, static_cast<int>(options.busy_timeout.count()));
  rc = sqlite3_exec(d->db, kSchema, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_status(d->db, rc, "create schema in " + path);
  FERRY_RETURN_IF_ERROR(d->prepare("BEGIN IMMEDIATE", &d->begin));
  FERRY_RETURN_IF_ERROR(d->prepare("COMMIT", &d->commit_tx));
  FERRY_RETURN_IF_ERROR(d->prepare("ROLLBACK", &d->rollback));
  FERRY_RETURN_IF_ERROR(d->prepare("SELECT committed, expires_ms FROM ferry_dedup WHERE key = ?1", &d->find));
  FERRY_RETURN_IF_ERROR(
      d->prepare("INSERT OR REPLACE INTO ferry_dedup(key, committed, expires_ms) VALUES(?1, 0, ?2)", &d->put));
  FERRY_RETURN_IF_ERROR(
      d->prepare("INSERT INTO ferry_dedup(key, committed, expires_ms) VALUES(?1, 1, ?2) "
                 "ON CONFLICT(key) DO UPDATE SET committed = 1, expires_ms = excluded.expires_ms",
                 &d->set_committed));
  FERRY_RETURN_IF_ERROR(d->prepare("DELETE FROM ferry_dedup WHERE key = ?1 AND committed = 0", &d->remove));
  FERRY_RETURN_IF_ERROR(d->prepare("DELETE FROM ferry_dedup WHERE expires_ms <= ?1", &d->purge));
  return std::unique_ptr<sqlite_dedup_store>(new sqlite_dedup_store(std::move(d)));
}

sqlite_dedup_store::sqlite_dedup_store(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}
sqlite_dedup_store::~sqlite_dedup_store() = default;

result<dedup_store::reservation> sqlite_dedup_store::reserve(std::string_view key, milliseconds ttl) {
  impl& d = *impl_;
  std::lock_guard lock(d.mu);
  // One write transaction: read the key, then claim it, with no other process in between.
  FERRY_RETURN_IF_ERROR(d.run(d.begin, "begin"));
  const std::int64_t now = wall_ms();
  std::optional<reservation> taken;
  {
    statement_scope scope(d.find);
    sqlite3_bind_text(d.find, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(d.find);
    if (rc == SQLITE_ROW) {
      if (sqlite3_column_int64(d.find, 1) > now)
        taken = sqlite3_column_int(d.find, 0) ? reservation::duplicate : reservation::in_flight;
    } else if (rc != SQLITE_DONE) {
      status s = sqlite_status(d.db, rc, "find");
      (void)d.run(d.rollback, "rollback");
      return s;
    }
  }
  if (!taken) {
    sqlite3_bind_text(d.put, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(d.put, 2, now + ttl.count());
    if (status s = d.run(d.put, "reserve"); !s.is_ok()) {
      (void)d.run(d.rollback, "rollback");
      return s;
    }
  }
  if (status s = d.run(d.commit_tx, "commit"); !s.is_ok()) {
    (void)d.run(d.rollback, "rollback");
    return s;
  }
  if (taken) return *taken;
  d.maybe_purge();
  return reservation::reserved;
}

status sqlite_dedup_store::commit(std::string_view key, milliseconds ttl) {
  impl& d = *impl_;
  std::lock_guard lock(d.mu);
  sqlite3_bind_text(d.set_committed, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(d.set_committed, 2, wall_ms() + ttl.count());
  return d.run(d.set_committed, "commit");
}

status sqlite_dedup_store::release(std::string_view key) {
  impl& d = *impl_;
  std::lock_guard lock(d.mu);
  sqlite3_bind_text(d.remove, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  return d.run(d.remove, "release");
}

}  // namespace ferry
