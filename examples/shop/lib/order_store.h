// order_store: order-service's orders, in SQLite (<data>/orders.db).
//
// An order is created `pending` and moves once to `confirmed` or `cancelled` (with a reason);
// later outcome events for it change nothing, so handling an outcome twice is harmless.
//
// Thread safety: every method is thread-safe (one connection behind a mutex).
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
#include "ferry/status.h"
#include "sqlite_db.h"

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
  static ferry::result<std::unique_ptr<order_store>> open(const std::string& path);

  // Stores a new order. already_exists when its id is taken.
  ferry::status insert(const order_record& o);
  // Forgets an order (its order.created could not be published). No error when absent.
  ferry::status remove(const std::string& id);
  // The order, or nullopt.
  ferry::result<std::optional<order_record>> find(const std::string& id);
  // Moves a pending order to `status` (confirmed or cancelled, with `reason`). Returns true if
  // it moved, false if the order is unknown or already final (the first outcome wins).
  ferry::result<bool> finish(const std::string& id, std::string_view status, const std::string& reason);
  // Orders per status.
  ferry::result<std::map<std::string, std::int64_t>> count_by_status();

 private:
  explicit order_store(std::unique_ptr<sqlite_db> db) : db_(std::move(db)) {}
  std::mutex mu_;  // guards db_
  std::unique_ptr<sqlite_db> db_;
};

}  // namespace shop
