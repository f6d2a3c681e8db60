// notification_store: the notifications notification-service has "sent", in SQLite
// (<data>/notifications.db) through ferry::sql, one row per outcome event id, so an outcome
// re-published with a new message id is still notified once. record() runs in the transaction of
// the inbox (ferry/outbox.h) that also records the message as handled.
//
// Thread safety: every method is thread-safe (the database is a pool of connections).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ferry/result.h"
#include "ferry/sql.h"
#include "ferry/status.h"

namespace shop {

class notification_store {
 public:
  // Creates the tables in `db` when missing. `db` must outlive the store.
  static ferry::result<std::unique_ptr<notification_store>> open(ferry::sql::database& db);

  // Records the notification for `event_id` (kind "confirmed" or "cancelled") in `tx`. Returns
  // true if it is new (send it), false if it was recorded before (a duplicate: do not send it
  // again; counted as "duplicates").
  ferry::result<bool> record(ferry::sql::transaction& tx, const std::string& event_id, const std::string& order_id,
                             const std::string& kind, const std::string& text);
  // Notifications per kind, and "duplicates" for the events recorded before.
  ferry::result<std::map<std::string, std::int64_t>> counts();

 private:
  explicit notification_store(ferry::sql::database& db) : db_(db) {}
  ferry::sql::database& db_;
};

}  // namespace shop
