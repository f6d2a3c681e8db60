#include "order_store.h"

#include <utility>

namespace shop {

namespace {

constexpr std::string_view schema =
    "CREATE TABLE IF NOT EXISTS orders ("
    "  id TEXT PRIMARY KEY,"
    "  customer TEXT NOT NULL,"
    "  items TEXT NOT NULL,"  // JSON array of {sku, qty}
    "  amount REAL NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL"
    ") WITHOUT ROWID;";

}  // namespace

void to_json(nlohmann::json& j, const order_record& o) {
  j = nlohmann::json{
      {"id", o.id},         {"customer", o.customer},     {"items", o.items},          {"amount", o.amount},
      {"status", o.status}, {"created_at", o.created_at}, {"updated_at", o.updated_at}};
  if (!o.reason.empty()) j["reason"] = o.reason;
}

ferry::result<std::unique_ptr<order_store>> order_store::open(const std::string& path) {
  FERRY_ASSIGN_OR_RETURN(auto db, sqlite_db::open(path, schema));
  return std::unique_ptr<order_store>(new order_store(std::move(db)));
}

ferry::status order_store::insert(const order_record& o) {
  std::lock_guard lock(mu_);
  FERRY_ASSIGN_OR_RETURN(std::int64_t n, db_->scalar("SELECT COUNT(*) FROM orders WHERE id = ?1", {o.id}));
  if (n != 0) return ferry::already_exists("order " + o.id);
  return db_->exec(
      "INSERT INTO orders (id, customer, items, amount, status, reason, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
      {o.id, o.customer, nlohmann::json(o.items).dump(), o.amount, o.status, o.reason, o.created_at});
}

ferry::status order_store::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  return db_->exec("DELETE FROM orders WHERE id = ?1", {id});
}

ferry::result<std::optional<order_record>> order_store::find(const std::string& id) {
  std::lock_guard lock(mu_);
  std::optional<order_record> found;
  FERRY_RETURN_IF_ERROR(
      db_->query("SELECT id, customer, items, amount, status, reason, created_at, updated_at FROM orders WHERE id = ?1",
                 {id}, [&](const sqlite_row& r) {
                   order_record o;
                   o.id = r.text(0);
                   o.customer = r.text(1);
                   o.items = nlohmann::json::parse(r.text(2)).get<std::vector<line_item>>();
                   o.amount = r.real(3);
                   o.status = r.text(4);
                   o.reason = r.text(5);
                   o.created_at = r.text(6);
                   o.updated_at = r.text(7);
                   found = std::move(o);
                 }));
  return found;
}

ferry::result<bool> order_store::finish(const std::string& id, std::string_view status, const std::string& reason) {
  std::lock_guard lock(mu_);
  FERRY_RETURN_IF_ERROR(
      db_->exec("UPDATE orders SET status = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'pending'",
                {id, std::string(status), reason, now_rfc3339()}));
  return db_->changes() == 1;
}

ferry::result<std::map<std::string, std::int64_t>> order_store::count_by_status() {
  std::lock_guard lock(mu_);
  std::map<std::string, std::int64_t> counts;
  FERRY_RETURN_IF_ERROR(db_->query("SELECT status, COUNT(*) FROM orders GROUP BY status", {},
                                   [&](const sqlite_row& r) { counts[r.text(0)] = r.integer(1); }));
  return counts;
}

}  // namespace shop
