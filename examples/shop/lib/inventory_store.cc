#include "inventory_store.h"

#include <utility>

namespace shop {

namespace {

constexpr std::string_view schema =
    "CREATE TABLE IF NOT EXISTS stock ("
    "  sku TEXT PRIMARY KEY,"
    "  initial INTEGER NOT NULL,"
    "  available INTEGER NOT NULL CHECK (available >= 0)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reservations ("
    "  order_id TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  payment_id TEXT NOT NULL DEFAULT '',"
    "  updated_at TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reservation_items ("
    "  order_id TEXT NOT NULL,"
    "  sku TEXT NOT NULL,"
    "  qty INTEGER NOT NULL,"
    "  PRIMARY KEY (order_id, sku)"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS counters ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;";

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
    const std::string& path, const std::map<std::string, std::int64_t>& initial_stock) {
  FERRY_ASSIGN_OR_RETURN(auto db, sqlite_db::open(path, schema));
  std::unique_ptr<inventory_store> s(new inventory_store(std::move(db)));
  FERRY_RETURN_IF_ERROR(s->db_->transaction([&] {
    for (const auto& [sku, qty] : initial_stock) {
      FERRY_RETURN_IF_ERROR(
          s->db_->exec("INSERT OR IGNORE INTO stock (sku, initial, available) VALUES (?1, ?2, ?2)", {sku, qty}));
    }
    return ferry::status::ok();
  }));
  return s;
}

ferry::result<reservation> inventory_store::reserve(const std::string& order_id, const std::vector<line_item>& items) {
  std::lock_guard lock(mu_);
  reservation r;
  FERRY_RETURN_IF_ERROR(db_->transaction([&]() -> ferry::status {
    FERRY_RETURN_IF_ERROR(db_->query("SELECT state, payment_id FROM reservations WHERE order_id = ?1", {order_id},
                                     [&](const sqlite_row& row) {
                                       r.state = row.text(0);
                                       r.payment_id = row.text(1);
                                       r.existed = true;
                                     }));
    if (r.existed) return ferry::status::ok();
    const auto wanted = per_sku(items);
    bool enough = true;
    for (const auto& [sku, qty] : wanted) {
      FERRY_ASSIGN_OR_RETURN(std::int64_t available,
                             db_->scalar("SELECT available FROM stock WHERE sku = ?1", {sku}, /*fallback=*/0));
      enough = enough && available >= qty;
    }
    r.state = enough ? reservation_state::reserved : reservation_state::rejected;
    FERRY_RETURN_IF_ERROR(db_->exec("INSERT INTO reservations (order_id, state, updated_at) VALUES (?1, ?2, ?3)",
                                    {order_id, r.state, now_rfc3339()}));
    if (!enough) return ferry::status::ok();
    for (const auto& [sku, qty] : wanted) {
      FERRY_RETURN_IF_ERROR(db_->exec("UPDATE stock SET available = available - ?2 WHERE sku = ?1", {sku, qty}));
      FERRY_RETURN_IF_ERROR(
          db_->exec("INSERT INTO reservation_items (order_id, sku, qty) VALUES (?1, ?2, ?3)", {order_id, sku, qty}));
    }
    return ferry::status::ok();
  }));
  return r;
}

ferry::result<std::string> inventory_store::move_reserved(const std::string& order_id, std::string_view to,
                                                          const std::string& payment_id) {
  std::lock_guard lock(mu_);
  std::string state;
  FERRY_RETURN_IF_ERROR(db_->transaction([&]() -> ferry::status {
    FERRY_RETURN_IF_ERROR(db_->query("SELECT state FROM reservations WHERE order_id = ?1", {order_id},
                                     [&](const sqlite_row& row) { state = row.text(0); }));
    if (state.empty()) return ferry::not_found("no reservation for order " + order_id);
    if (state != reservation_state::reserved) return ferry::status::ok();  // moved before: nothing to do
    if (to == reservation_state::released) {
      FERRY_RETURN_IF_ERROR(
          db_->exec("UPDATE stock SET available = available + "
                    "(SELECT qty FROM reservation_items i WHERE i.order_id = ?1 AND i.sku = stock.sku) "
                    "WHERE sku IN (SELECT sku FROM reservation_items WHERE order_id = ?1)",
                    {order_id}));
    }
    state = std::string(to);
    return db_->exec("UPDATE reservations SET state = ?2, payment_id = ?3, updated_at = ?4 WHERE order_id = ?1",
                     {order_id, state, payment_id, now_rfc3339()});
  }));
  return state;
}

ferry::result<std::string> inventory_store::confirm(const std::string& order_id, const std::string& payment_id) {
  return move_reserved(order_id, reservation_state::confirmed, payment_id);
}

ferry::result<std::string> inventory_store::release(const std::string& order_id) {
  return move_reserved(order_id, reservation_state::released, "");
}

ferry::status inventory_store::count(std::string_view name, std::int64_t delta) {
  std::lock_guard lock(mu_);
  return db_->exec(
      "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = value + ?2",
      {std::string(name), delta});
}

ferry::result<inventory_stats> inventory_store::stats() {
  std::lock_guard lock(mu_);
  inventory_stats s;
  FERRY_RETURN_IF_ERROR(db_->query("SELECT sku, initial, available FROM stock", {}, [&](const sqlite_row& r) {
    s.stock[r.text(0)] = {.initial = r.integer(1), .available = r.integer(2)};
  }));
  FERRY_RETURN_IF_ERROR(
      db_->query("SELECT i.sku, r.state, SUM(i.qty) FROM reservation_items i JOIN reservations r USING (order_id) "
                 "GROUP BY i.sku, r.state",
                 {}, [&](const sqlite_row& r) {
                   sku_stock& k = s.stock[r.text(0)];
                   if (r.text(1) == reservation_state::reserved) k.held += r.integer(2);
                   if (r.text(1) == reservation_state::confirmed) k.confirmed += r.integer(2);
                 }));
  FERRY_RETURN_IF_ERROR(db_->query("SELECT state, COUNT(*) FROM reservations GROUP BY state", {},
                                   [&](const sqlite_row& r) { s.reservations[r.text(0)] = r.integer(1); }));
  FERRY_RETURN_IF_ERROR(db_->query("SELECT name, value FROM counters", {},
                                   [&](const sqlite_row& r) { s.counters[r.text(0)] = r.integer(1); }));
  return s;
}

}  // namespace shop
