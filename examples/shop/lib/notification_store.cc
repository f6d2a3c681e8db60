#include "notification_store.h"

#include <utility>

#include "events.h"

namespace shop {

namespace {

constexpr std::string_view schema =
    "CREATE TABLE IF NOT EXISTS notifications ("
    "  event_id TEXT PRIMARY KEY,"
    "  order_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  sent_at TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;";

}  // namespace

ferry::result<std::unique_ptr<notification_store>> notification_store::open(const std::string& path) {
  FERRY_ASSIGN_OR_RETURN(auto db, sqlite_db::open(path, schema));
  return std::unique_ptr<notification_store>(new notification_store(std::move(db)));
}

ferry::result<bool> notification_store::record(const std::string& event_id, const std::string& order_id,
                                               const std::string& kind, const std::string& text) {
  std::lock_guard lock(mu_);
  FERRY_RETURN_IF_ERROR(
      db_->exec("INSERT OR IGNORE INTO notifications (event_id, order_id, kind, text, sent_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5)",
                {event_id, order_id, kind, text, now_rfc3339()}));
  if (db_->changes() == 1) return true;
  FERRY_RETURN_IF_ERROR(
      db_->exec("INSERT INTO counters (name, value) VALUES ('duplicates', 1) ON CONFLICT (name) DO UPDATE SET value = "
                "value + 1"));
  return false;
}

ferry::result<std::map<std::string, std::int64_t>> notification_store::counts() {
  std::lock_guard lock(mu_);
  std::map<std::string, std::int64_t> c;
  FERRY_RETURN_IF_ERROR(db_->query("SELECT kind, COUNT(*) FROM notifications GROUP BY kind", {},
                                   [&](const sqlite_row& r) { c[r.text(0)] = r.integer(1); }));
  FERRY_RETURN_IF_ERROR(
      db_->query("SELECT name, value FROM counters", {}, [&](const sqlite_row& r) { c[r.text(0)] = r.integer(1); }));
  return c;
}

}  // namespace shop
