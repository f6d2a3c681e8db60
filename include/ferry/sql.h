// sql: the small database layer under the outbox, the inbox and the saga store. One interface,
// two implementations: SQLite (embedded, the default) and PostgreSQL (libpq).
//
//   auto db = ferry::sql::open("sqlite:///var/lib/orders/orders.db");   // or "postgres://u@h/db"
//   auto tx = db.value()->begin();
//   tx.value()->exec("INSERT INTO orders(id, total) VALUES ($1, $2)", {id, std::int64_t{25}});
//   outbox.add(*tx.value(), ferry::message("order.created", body));     // same transaction
//   tx.value()->commit();
//
// Statements use PostgreSQL's `$1, $2 ...` placeholders on both databases (SQLite gets `?1, ?2`).
// A transaction that is destroyed without commit() rolls back. SQLite transactions start with
// BEGIN IMMEDIATE (writers queue on the database lock, waiting up to busy_timeout); PostgreSQL
// transactions run at READ COMMITTED unless the statement asks otherwise.
//
// Thread safety: a database is thread-safe (a pool of connections, one per open transaction);
// a transaction belongs to one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry::sql {

enum class dialect : std::uint8_t { sqlite, postgres };
std::string_view to_string(dialect d);

// Bytes stored as a BLOB (SQLite) or BYTEA (PostgreSQL), unlike text.
struct blob {
  std::string_view bytes;
};
// One statement parameter: NULL, an integer, text or bytes.
using param = std::variant<std::nullptr_t, std::int64_t, std::string_view, blob>;

// One result row; each column as text (integers in decimal, bytes as they are), NULL as nullopt.
class row {
 public:
  explicit row(std::vector<std::optional<std::string>> cols) : cols_(std::move(cols)) {}
  [[nodiscard]] std::size_t size() const { return cols_.size(); }
  [[nodiscard]] bool is_null(std::size_t i) const { return !cols_.at(i).has_value(); }
  // The column as text ("" when NULL).
  [[nodiscard]] const std::string& text(std::size_t i) const;
  // The column as an integer (0 when NULL or not a number).
  [[nodiscard]] std::int64_t integer(std::size_t i) const;

 private:
  std::vector<std::optional<std::string>> cols_;
};
using rows = std::vector<row>;

class transaction {
 public:
  transaction() = default;
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  virtual ~transaction() = default;

  // Runs a statement; returns the rows it produced (none for most writes).
  virtual result<rows> query(std::string_view sql, std::initializer_list<param> params = {}) = 0;
  // Runs a statement; returns how many rows it changed.
  virtual result<std::int64_t> exec(std::string_view sql, std::initializer_list<param> params = {}) = 0;
  // Commits; then runs the on_commit callbacks and wakes wait_for_commit() in this process
  // (and, on PostgreSQL, in other processes, if signal() was called in this transaction).
  virtual status commit() = 0;
  // Rolls back (also what the destructor does when neither was called). Idempotent.
  virtual void rollback() = 0;
  [[nodiscard]] virtual dialect kind() const = 0;
  // Runs `f` after a successful commit, on the committing thread.
  void on_commit(std::function<void()> f) { on_commit_.push_back(std::move(f)); }
  // Marks this transaction as one that waiters of wait_for_commit() care about (the outbox calls
  // it for every message added). PostgreSQL: NOTIFY on the database's channel, delivered at commit.
  virtual status signal() = 0;

 protected:
  void run_on_commit();
  std::vector<std::function<void()>> on_commit_;
};

struct options {
  // Connections held at most; begin() waits for a free one (up to busy_timeout).
  std::size_t pool_size = 4;
  // SQLite: how long a writer waits for the database lock. Both: how long begin() waits for a
  // connection of the pool.
  std::chrono::milliseconds busy_timeout{10'000};
  // The channel of signal()/wait_for_commit() (PostgreSQL LISTEN/NOTIFY).
  std::string channel = "ferry_outbox";
  // PostgreSQL: signal() also NOTIFYs the channel, so waiters in other processes wake. NOTIFY takes
  // a lock at commit that serialises committing transactions (about a quarter of the outbox's
  // commit rate with 4 writers, docs/benchmarks.md); set false when the relay runs in the
  // writers' process (it is woken in-process) or polling is enough.
  bool notify_other_processes = true;
};

class database {
 public:
  database() = default;
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  virtual ~database() = default;

  virtual result<std::unique_ptr<transaction>> begin() = 0;
  [[nodiscard]] virtual dialect kind() const = 0;
  // Where it is, without a password ("sqlite:/path", "postgres://user@host:port/db").
  [[nodiscard]] virtual std::string describe() const = 0;
  // Waits until a transaction that called signal() commits (in this process; on PostgreSQL also
  // in any other process) or `timeout` passes. Returns true if one did since the last call that
  // returned true (so a signal between two waits is not lost).
  virtual bool wait_for_commit(std::chrono::milliseconds timeout) = 0;
  // Wakes wait_for_commit() at once (for shutdown).
  virtual void wake() = 0;

  // Runs `f` in a transaction and commits it; rolls back and returns the error when `f` or the
  // commit fails.
  status in_transaction(const std::function<status(transaction&)>& f);
};

// "sqlite:///abs/path.db", "sqlite:relative.db", "sqlite::memory:" (one connection), or a
// PostgreSQL URI ("postgres://" or "postgresql://") or key=value connection string.
result<std::unique_ptr<database>> open(std::string_view url, options o = {});
result<std::unique_ptr<database>> open_sqlite(const std::string& path, options o = {});
result<std::unique_ptr<database>> open_postgres(const std::string& conninfo, options o = {});

// Rewrites `$N` placeholders as `?N` outside quoted strings and identifiers (what SQLite takes).
std::string sqlite_placeholders(std::string_view sql);

}  // namespace ferry::sql
