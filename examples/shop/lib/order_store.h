// order_store: order-service's orders, in SQLite (<data>/orders.db) through ferry::sql, so that
// an order and its order.created (the outbox) are written in one transaction.
//
// An order is created `pending` and moves once to `confirmed` or `cancelled` (with a reason);
// later outcome events for it change nothing, so handling an outcome twice is harmless.
//
// Thread safety: every method is thread-safe (the database is a pool of connections).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "events.h"
#include "ferry/result.h"
#include "ferry/sql.h"
#include "ferry/status.h"

namespace shop {

namespace order_status {
inline constexpr std::string_view pending = "pending";
inline constexpr std::string_view confirmed = "confirmed";
inline constexpr std::string_view cancelled = "cancelled";
}  // namespace order_status

struct order_record {
  std::string id;
  std::string customer;
  std::vector<line_item> items;
  double amount = 0;
  std::string status;  // order_status::*
  std::string reason;  // why it was cancelled
  std::string created_at, updated_at;
};

// {"id", "customer", "items", "amount", "status", "reason" (when cancelled), "created_at", "updated_at"}.
void to_json(nlohmann::json& j, const order_record& o);

class order_store {
 public:
  // Creates the table in `db` when missing. `db` must outlive the store.
  static ferry::result<std::unique_ptr<order_store>> open(ferry::sql::database& db);

  // Stores a new order in `tx`. already_exists when its id is taken.
  ferry::status insert(ferry::sql::transaction& tx, const order_record& o);
  // The order, or nullopt.
  ferry::result<std::optional<order_record>> find(const std::string& id);
  ferry::result<std::optional<order_record>> find(ferry::sql::transaction& tx, const std::string& id);
  // Moves a pending order to `status` (confirmed or cancelled, with `reason`) in `tx`. Returns
  // true if it moved, false if the order is unknown or already final (the first outcome wins).
  ferry::result<bool> finish(ferry::sql::transaction& tx, const std::string& id, std::string_view status,
                             const std::string& reason);
  // Orders per status.
  ferry::result<std::map<std::string, std::int64_t>> count_by_status();

 private:
  explicit order_store(ferry::sql::database& db) : db_(db) {}
  ferry::sql::database& db_;
};

}  // namespace shop
