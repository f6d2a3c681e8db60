// notification_store: the notifications notification-service has "sent", in SQLite
// (<data>/notifications.db), one row per outcome event id, so an event delivered twice is
// notified once.
//
// Thread safety: every method is thread-safe (one connection behind a mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ferry/result.h"
#include "ferry/status.h"
#include "sqlite_db.h"

namespace shop {

class notification_store {
 public:
  static ferry::result<std::unique_ptr<notification_store>> open(const std::string& path);

  // Records the notification for `event_id` (kind "confirmed" or "cancelled"). Returns true if it
  // is new (send it), false if it was recorded before (a duplicate: do not send it again).
  ferry::result<bool> record(const std::string& event_id, const std::string& order_id, const std::string& kind,
                             const std::string& text);
  // Notifications per kind, and "duplicates" for the events recorded before.
  ferry::result<std::map<std::string, std::int64_t>> counts();

 private:
  explicit notification_store(std::unique_ptr<sqlite_db> db) : db_(std::move(db)) {}
  std::mutex mu_;  // guards db_
  std::unique_ptr<sqlite_db> db_;
};

}  // namespace shop
