#include "notification_store.h"

#include <utility>

#include "events.h"

namespace shop {

ferry::result<std::unique_ptr<notification_store>> notification_store::open(ferry::sql::database& db) {
  FERRY_RETURN_IF_ERROR(db.in_transaction([](ferry::sql::transaction& tx) -> ferry::status {
    FERRY_RETURN_IF_ERROR(tx.exec("CREATE TABLE IF NOT EXISTS notifications ("
                                  "  event_id TEXT PRIMARY KEY,"
                                  "  order_id TEXT NOT NULL,"
                                  "  kind TEXT NOT NULL,"
                                  "  text TEXT NOT NULL,"
                                  "  sent_at TEXT NOT NULL)")
                              .status());
    return tx.exec("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)").status();
  }));
  return std::unique_ptr<notification_store>(new notification_store(db));
}

ferry::result<bool> notification_store::record(ferry::sql::transaction& tx, const std::string& event_id,
                                               const std::string& order_id, const std::string& kind,
                                               const std::string& text) {
  FERRY_ASSIGN_OR_RETURN(std::int64_t n, tx.exec("INSERT INTO notifications (event_id, order_id, kind, text, sent_at) "
                                                 "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
                                                 {event_id, order_id, kind, text, now_rfc3339()}));
  if (n == 1) return true;
  FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO counters (name, value) VALUES ('duplicates', 1) "
                                "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1")
                            .status());
  return false;
}

ferry::result<std::map<std::string, std::int64_t>> notification_store::counts() {
  FERRY_ASSIGN_OR_RETURN(auto tx, db_.begin());
  std::map<std::string, std::int64_t> c;
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows kinds, tx->query("SELECT kind, COUNT(*) FROM notifications GROUP BY kind"));
  for (const auto& r : kinds) c[r.text(0)] = r.integer(1);
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows counters, tx->query("SELECT name, value FROM counters"));
  for (const auto& r : counters) c[r.text(0)] = r.integer(1);
  return c;
}

}  // namespace shop
