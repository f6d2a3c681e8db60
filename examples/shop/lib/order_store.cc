#include "order_store.h"

#include <utility>

namespace shop {

void to_json(nlohmann::json& j, const order_record& o) {
  j = nlohmann::json{
      {"id", o.id},         {"customer", o.customer},     {"items", o.items},          {"amount", o.amount},
      {"status", o.status}, {"created_at", o.created_at}, {"updated_at", o.updated_at}};
  if (!o.reason.empty()) j["reason"] = o.reason;
}

ferry::result<std::unique_ptr<order_store>> order_store::open(ferry::sql::database& db) {
  FERRY_RETURN_IF_ERROR(db.in_transaction([](ferry::sql::transaction& tx) {
    return tx
        .exec(
            "CREATE TABLE IF NOT EXISTS orders ("
            "  id TEXT PRIMARY KEY,"
            "  customer TEXT NOT NULL,"
            "  items TEXT NOT NULL,"   // JSON array of {sku, qty}
            "  amount TEXT NOT NULL,"  // as the client sent it, e.g. "25.5"
            "  status TEXT NOT NULL,"
            "  reason TEXT NOT NULL DEFAULT '',"
            "  created_at TEXT NOT NULL,"
            "  updated_at TEXT NOT NULL)")
        .status();
  }));
  return std::unique_ptr<order_store>(new order_store(db));
}

ferry::status order_store::insert(ferry::sql::transaction& tx, const order_record& o) {
  FERRY_ASSIGN_OR_RETURN(auto found, find(tx, o.id));
  if (found) return ferry::already_exists("order " + o.id);
  return tx
      .exec(
          "INSERT INTO orders (id, customer, items, amount, status, reason, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
          {o.id, o.customer, nlohmann::json(o.items).dump(), nlohmann::json(o.amount).dump(), o.status, o.reason,
           o.created_at})
      .status();
}

ferry::result<std::optional<order_record>> order_store::find(const std::string& id) {
  FERRY_ASSIGN_OR_RETURN(auto tx, db_.begin());
  return find(*tx, id);
}

ferry::result<std::optional<order_record>> order_store::find(ferry::sql::transaction& tx, const std::string& id) {
  FERRY_ASSIGN_OR_RETURN(
      ferry::sql::rows rows,
      tx.query("SELECT id, customer, items, amount, status, reason, created_at, updated_at FROM orders WHERE id = $1",
               {id}));
  if (rows.empty()) return std::optional<order_record>();
  const ferry::sql::row& r = rows[0];
  order_record o;
  o.id = r.text(0);
  o.customer = r.text(1);
  o.items = nlohmann::json::parse(r.text(2)).get<std::vector<line_item>>();
  o.amount = nlohmann::json::parse(r.text(3)).get<double>();
  o.status = r.text(4);
  o.reason = r.text(5);
  o.created_at = r.text(6);
  o.updated_at = r.text(7);
  return std::optional<order_record>(std::move(o));
}

ferry::result<bool> order_store::finish(ferry::sql::transaction& tx, const std::string& id, std::string_view status,
                                        const std::string& reason) {
  FERRY_ASSIGN_OR_RETURN(
      std::int64_t n,
      tx.exec("UPDATE orders SET status = $2, reason = $3, updated_at = $4 WHERE id = $1 AND status = 'pending'",
              {id, status, reason, now_rfc3339()}));
  return n == 1;
}

ferry::result<std::map<std::string, std::int64_t>> order_store::count_by_status() {
  FERRY_ASSIGN_OR_RETURN(auto tx, db_.begin());
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows rows, tx->query("SELECT status, COUNT(*) FROM orders GROUP BY status"));
  std::map<std::string, std::int64_t> counts;
  for (const auto& r : rows) counts[r.text(0)] = r.integer(1);
  return counts;
}

}  // namespace shop
