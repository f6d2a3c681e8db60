#include <spdlog/spdlog.h>

#include "ferry/outbox.h"
#include "table_name.h"

namespace ferry {

result<inbox> inbox::open(sql::database& db, inbox_options options) {
  FERRY_RETURN_IF_ERROR(detail::check_table_name(options.table, "inbox table"));
  if (options.consumer.empty()) return invalid_argument("inbox: a consumer name is needed (whose record it is)");
  const bool pg = db.kind() == sql::dialect::postgres;
  const std::string& t = options.table;
  status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    s = db.in_transaction([&](sql::transaction& tx) -> status {
      FERRY_RETURN_IF_ERROR(tx.exec("CREATE TABLE IF NOT EXISTS " + t +
                                    " (consumer TEXT NOT NULL, id TEXT NOT NULL, handled_ms " +
                                    (pg ? "BIGINT" : "INTEGER") + " NOT NULL, PRIMARY KEY (consumer, id))")
                                .status());
      return detail::run_schema_statement(tx, "CREATE INDEX IF NOT EXISTS " + t + "_age ON " + t + " (handled_ms)");
    });
    if (s.is_ok() || s.code() != status_code::already_exists) break;  // two processes created it at once
  }
  FERRY_RETURN_IF_ERROR(s);
  return inbox(db, std::move(options));
}

result<bool> inbox::record(sql::transaction& tx, const message& m) const {
  if (m.id.empty()) return invalid_argument("inbox: the message has no id");
  // On PostgreSQL a second transaction inserting the same row waits for the first to end, so two
  // copies handled at once are serialised; on SQLite writers are serialised anyway.
  FERRY_ASSIGN_OR_RETURN(std::int64_t n,
                         tx.exec("INSERT INTO " + options_.table +
                                     " (consumer, id, handled_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                 {options_.consumer, m.id, detail::wall_ms()}));
  return n == 1;
}

handler inbox::wrap(transactional_handler f) const {
  return [self = *this, f = std::move(f)](message& m) -> outcome {
    if (m.id.empty())
      return outcome::drop(invalid_argument("inbox " + self.options_.consumer + ": message without an id"));
    auto tx = self.db_->begin();
    if (!tx.is_ok()) return outcome::retry(tx.status());
    auto fresh = self.record(*tx.value(), m);
    if (!fresh.is_ok()) return outcome::retry(fresh.status());
    if (!fresh.value()) {
      spdlog::debug("inbox {}: {} was handled before; acked without running the handler", self.options_.consumer, m.id);
      return outcome::ack();
    }
    outcome o = f(*tx.value(), m);
    if (!o.is_ack()) {
      tx.value()->rollback();
      return o;
    }
    if (status s = tx.value()->commit(); !s.is_ok()) return outcome::retry(s);
    return o;
  };
}

result<std::int64_t> inbox::purge() const {
  FERRY_ASSIGN_OR_RETURN(auto tx, db_->begin());
  FERRY_ASSIGN_OR_RETURN(std::int64_t n,
                         tx->exec("DELETE FROM " + options_.table + " WHERE consumer = $1 AND handled_ms < $2",
                                  {options_.consumer, detail::wall_ms() - options_.retention.count()}));
  FERRY_RETURN_IF_ERROR(tx->commit());
  return n;
}

}  // namespace ferry
