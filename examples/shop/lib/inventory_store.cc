#include "inventory_store.h"

#include <utility>

namespace shop {

namespace {

constexpr const char* schema[] = {
    "CREATE TABLE IF NOT EXISTS stock ("
    "  sku TEXT PRIMARY KEY,"
    "  initial INTEGER NOT NULL,"
    "  available INTEGER NOT NULL CHECK (available >= 0))",
    "CREATE TABLE IF NOT EXISTS reservations ("
    "  order_id TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  payment_id TEXT NOT NULL DEFAULT '',"
    "  updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reservation_items ("
    "  order_id TEXT NOT NULL,"
    "  sku TEXT NOT NULL,"
    "  qty INTEGER NOT NULL,"
    "  PRIMARY KEY (order_id, sku))",
    "CREATE TABLE IF NOT EXISTS counters ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL)",
};

// The quantity per sku of an order (an order may list one sku twice).
std::map<std::string, std::int64_t> per_sku(const std::vector<line_item>& items) {
  std::map<std::string, std::int64_t> q;
  for (const line_item& i : items) q[i.sku] += i.qty;
  return q;
}

}  // namespace

bool inventory_stats::consistent() const {
  for (const auto& [sku, s] : stock) {
    if (s.initial - s.available != s.held + s.confirmed) return false;
  }
  return true;
}

void to_json(nlohmann::json& j, const inventory_stats& s) {
  j = nlohmann::json::object();
  for (const auto& [sku, v] : s.stock) {
    j["stock"][sku] = {
        {"initial", v.initial}, {"available", v.available}, {"held", v.held}, {"confirmed", v.confirmed}};
  }
  j["reservations"] = s.reservations;
  j["counters"] = s.counters;
  j["consistent"] = s.consistent();
}

ferry::result<std::unique_ptr<inventory_store>> inventory_store::open(
    ferry::sql::database& db, const std::map<std::string, std::int64_t>& initial_stock) {
  FERRY_RETURN_IF_ERROR(db.in_transaction([&](ferry::sql::transaction& tx) -> ferry::status {
    for (const char* ddl : schema) FERRY_RETURN_IF_ERROR(tx.exec(ddl).status());
    for (const auto& [sku, qty] : initial_stock) {
      FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO stock (sku, initial, available) VALUES ($1, $2, $2) "
                                    "ON CONFLICT (sku) DO NOTHING",
                                    {sku, qty})
                                .status());
    }
    return ferry::status::ok();
  }));
  return std::unique_ptr<inventory_store>(new inventory_store(db));
}

ferry::result<reservation> inventory_store::reserve(ferry::sql::transaction& tx, const std::string& order_id,
                                                    const std::vector<line_item>& items) {
  reservation r;
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows found,
                         tx.query("SELECT state, payment_id FROM reservations WHERE order_id = $1", {order_id}));
  if (!found.empty()) {
    r.state = found[0].text(0);
    r.payment_id = found[0].text(1);
    r.existed = true;
    return r;
  }
  const auto wanted = per_sku(items);
  bool enough = true;
  for (const auto& [sku, qty] : wanted) {
    FERRY_ASSIGN_OR_RETURN(ferry::sql::rows a, tx.query("SELECT available FROM stock WHERE sku = $1", {sku}));
    enough = enough && !a.empty() && a[0].integer(0) >= qty;
  }
  r.state = enough ? reservation_state::reserved : reservation_state::rejected;
  FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO reservations (order_id, state, updated_at) VALUES ($1, $2, $3)",
                                {order_id, r.state, now_rfc3339()})
                            .status());
  if (!enough) return r;
  for (const auto& [sku, qty] : wanted) {
    FERRY_RETURN_IF_ERROR(tx.exec("UPDATE stock SET available = available - $2 WHERE sku = $1", {sku, qty}).status());
    FERRY_RETURN_IF_ERROR(
        tx.exec("INSERT INTO reservation_items (order_id, sku, qty) VALUES ($1, $2, $3)", {order_id, sku, qty})
            .status());
  }
  return r;
}

ferry::result<std::string> inventory_store::move_reserved(ferry::sql::transaction& tx, const std::string& order_id,
                                                          std::string_view to, const std::string& payment_id) {
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows found,
                         tx.query("SELECT state FROM reservations WHERE order_id = $1", {order_id}));
  if (found.empty()) return ferry::not_found("no reservation for order " + order_id);
  std::string state = found[0].text(0);
  if (state != reservation_state::reserved) return state;  // moved before: nothing to do
  if (to == reservation_state::released) {
    FERRY_RETURN_IF_ERROR(tx.exec("UPDATE stock SET available = available + "
                                  "(SELECT qty FROM reservation_items i WHERE i.order_id = $1 AND i.sku = stock.sku) "
                                  "WHERE sku IN (SELECT sku FROM reservation_items WHERE order_id = $1)",
                                  {order_id})
                              .status());
  }
  state = std::string(to);
  FERRY_RETURN_IF_ERROR(
      tx.exec("UPDATE reservations SET state = $2, payment_id = $3, updated_at = $4 WHERE order_id = $1",
              {order_id, state, payment_id, now_rfc3339()})
          .status());
  return state;
}

ferry::result<std::string> inventory_store::confirm(ferry::sql::transaction& tx, const std::string& order_id,
                                                    const std::string& payment_id) {
  return move_reserved(tx, order_id, reservation_state::confirmed, payment_id);
}

ferry::result<std::string> inventory_store::release(ferry::sql::transaction& tx, const std::string& order_id) {
  return move_reserved(tx, order_id, reservation_state::released, "");
}

ferry::status inventory_store::count(ferry::sql::transaction& tx, std::string_view name, std::int64_t delta) {
  return tx
      .exec(
          "INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = counters.value "
          "+ $2",
          {name, delta})
      .status();
}

ferry::result<inventory_stats> inventory_store::stats() {
  FERRY_ASSIGN_OR_RETURN(auto tx, db_.begin());
  inventory_stats s;
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows stock, tx->query("SELECT sku, initial, available FROM stock"));
  for (const auto& r : stock) s.stock[r.text(0)] = {.initial = r.integer(1), .available = r.integer(2)};
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows held,
                         tx->query("SELECT i.sku, r.state, SUM(i.qty) FROM reservation_items i JOIN reservations r "
                                   "USING (order_id) GROUP BY i.sku, r.state"));
  for (const auto& r : held) {
    sku_stock& k = s.stock[r.text(0)];
    if (r.text(1) == reservation_state::reserved) k.held += r.integer(2);
    if (r.text(1) == reservation_state::confirmed) k.confirmed += r.integer(2);
  }
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows states, tx->query("SELECT state, COUNT(*) FROM reservations GROUP BY state"));
  for (const auto& r : states) s.reservations[r.text(0)] = r.integer(1);
  FERRY_ASSIGN_OR_RETURN(ferry::sql::rows counters, tx->query("SELECT name, value FROM counters"));
  for (const auto& r : counters) s.counters[r.text(0)] = r.integer(1);
  return s;
}

}  // namespace shop
