// inventory_store: inventory-service's stock and reservations, in SQLite (<data>/inventory.db)
// through ferry::sql: every change runs in the caller's transaction, the one the order's saga
// step runs in (ferry/saga.h), so the stock, the saga's state and the messages it sends commit
// together.
//
// One reservation row per order id (its primary key) records where the order's saga stands:
//
//   (none) --reserve--> reserved --confirm--> confirmed
//      |                    `------release--> released   (payment declined: stock given back)
//      `--reserve (short)--> rejected                     (out of stock: nothing taken; in the
//                                                          saga this fails the step, whose writes
//                                                          are rolled back, so no row stays)
//
// reserve() takes the stock and writes the row together, so a step run again finds its row and
// never takes stock twice; confirm() and release() move only a `reserved` row, so they are
// idempotent too.
//
// Invariant (checked by stats()): for each sku, initial - available == the quantity held by
// `reserved` rows + the quantity of `confirmed` rows.
//
// Thread safety: every method is thread-safe (the database is a pool of connections).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "events.h"
#include "ferry/result.h"
#include "ferry/sql.h"
#include "ferry/status.h"

namespace shop {

namespace reservation_state {
inline constexpr std::string_view reserved = "reserved";
inline constexpr std::string_view confirmed = "confirmed";
inline constexpr std::string_view released = "released";
inline constexpr std::string_view rejected = "rejected";
}  // namespace reservation_state

struct reservation {
  std::string state;       // reservation_state::*
  std::string payment_id;  // when confirmed
  bool existed = false;    // true: reserve() found the row (it took no stock this time)
};

struct sku_stock {
  std::int64_t initial = 0, available = 0;
  std::int64_t held = 0;       // by reserved rows (a saga in progress)
  std::int64_t confirmed = 0;  // by confirmed rows
};

struct inventory_stats {
  std::map<std::string, sku_stock> stock;
  std::map<std::string, std::int64_t> reservations;  // rows per state
  std::map<std::string, std::int64_t> counters;      // see count()
  // True when the invariant in the file comment holds for every sku.
  [[nodiscard]] bool consistent() const;
};

void to_json(nlohmann::json& j, const inventory_stats& s);

class inventory_store {
 public:
  // Creates the tables in `db` when missing; skus not in it yet get their `initial_stock` (a
  // restarted service keeps the stock it had). `db` must outlive the store.
  static ferry::result<std::unique_ptr<inventory_store>> open(ferry::sql::database& db,
                                                              const std::map<std::string, std::int64_t>& initial_stock);

  // The order's reservation: the existing row (existed = true), else a new one: `reserved` with
  // the stock taken when every item is available (unknown skus have none), `rejected` otherwise.
  ferry::result<reservation> reserve(ferry::sql::transaction& tx, const std::string& order_id,
                                     const std::vector<line_item>& items);
  // reserved -> confirmed. Returns the row's state afterwards (confirmed, or what it already was).
  ferry::result<std::string> confirm(ferry::sql::transaction& tx, const std::string& order_id,
                                     const std::string& payment_id);
  // reserved -> released, giving the stock back. Returns the row's state afterwards.
  ferry::result<std::string> release(ferry::sql::transaction& tx, const std::string& order_id);

  // Adds `delta` to the persistent counter `name` (e.g. "duplicates_suppressed") in `tx`, so that
  // counts survive a crash of the service and agree with what was committed.
  static ferry::status count(ferry::sql::transaction& tx, std::string_view name, std::int64_t delta = 1);
  ferry::result<inventory_stats> stats();

 private:
  explicit inventory_store(ferry::sql::database& db) : db_(db) {}
  static ferry::result<std::string> move_reserved(ferry::sql::transaction& tx, const std::string& order_id,
                                                  std::string_view to, const std::string& payment_id);
  ferry::sql::database& db_;
};

}  // namespace shop
