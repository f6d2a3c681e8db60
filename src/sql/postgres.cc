// The PostgreSQL implementation of ferry::sql over libpq: a pool of connections (each checked,
// and reset when the server went away), parameters sent out of line (text, or binary for bytes),
// results in text form with BYTEA decoded, and a LISTEN connection on a thread of its own that
// turns NOTIFY into wait_for_commit() wake-ups.
#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "commit_signal.h"
#include "ferry/sql.h"
#include "pool.h"

namespace ferry::sql {

namespace {

constexpr Oid kByteaOid = 17;

// SQLSTATE classes that a caller may retry: serialization failure, deadlock, lock not available,
// connection errors, and the server shutting down.
status pg_error(PGconn* c, const PGresult* r, std::string_view what) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : (c != nullptr ? PQerrorMessage(c) : "");
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string m = "postgres: " + std::string(what) + ": " + msg;
  const std::string_view s = state != nullptr ? state : "";
  if (c != nullptr && PQstatus(c) != CONNECTION_OK) return unavailable(std::move(m));
  if (s == "40001" || s == "40P01" || s == "55P03" || s.substr(0, 2) == "08" || s.substr(0, 2) == "57") {
    return unavailable(std::move(m));
  }
  if (s == "23505") return already_exists(std::move(m));
  if (s.substr(0, 2) == "42" || s.substr(0, 2) == "22") return invalid_argument(std::move(m));
  if (s == "53100") return resource_exhausted(std::move(m));
  return io_error(std::move(m));
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

// BYTEA in text form ("\x0a1b..."), as the hex output format writes it.
std::string decode_bytea(const char* v, int len) {
  std::string out;
  if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
    out.reserve(static_cast<std::size_t>(len - 2) / 2);
    for (int i = 2; i + 1 < len; i += 2) out += static_cast<char>(hex(v[i]) * 16 + hex(v[i + 1]));
    return out;
  }
  return std::string(v, static_cast<std::size_t>(len));
}

struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, result_deleter>;

struct pg_connection {
  ~pg_connection() { PQfinish(c); }
  PGconn* c = nullptr;
};

class pg_database;

class pg_transaction final : public transaction {
 public:
  pg_transaction(pg_database* owner, std::unique_ptr<pg_connection> c) : owner_(owner), c_(std::move(c)) {}
  ~pg_transaction() override { rollback(); }

  result<rows> query(std::string_view sql, std::initializer_list<param> params) override {
    FERRY_ASSIGN_OR_RETURN(pg_result r, run(sql, params));
    rows out;
    const int n = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::vector<std::optional<std::string>> vals(static_cast<std::size_t>(cols));
      for (int k = 0; k < cols; ++k) {
        if (PQgetisnull(r.get(), i, k) != 0) continue;
        const char* v = PQgetvalue(r.get(), i, k);
        const int len = PQgetlength(r.get(), i, k);
        vals[static_cast<std::size_t>(k)].emplace(
            PQftype(r.get(), k) == kByteaOid ? decode_bytea(v, len) : std::string(v, static_cast<std::size_t>(len)));
      }
      out.emplace_back(std::move(vals));
    }
    return out;
  }
  result<std::int64_t> exec(std::string_view sql, std::initializer_list<param> params) override {
    FERRY_ASSIGN_OR_RETURN(pg_result r, run(sql, params));
    const char* n = PQcmdTuples(r.get());
    return n != nullptr && *n != 0 ? std::stoll(n) : std::int64_t{0};
  }
  status commit() override;
  void rollback() override;
  [[nodiscard]] dialect kind() const override { return dialect::postgres; }
  status signal() override;

 private:
  friend class pg_database;
  result<pg_result> run(std::string_view sql, std::initializer_list<param> params) {
    if (!c_) return failed_precondition("postgres: the transaction has ended");
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    std::size_t i = 0;
    for (const param& p : params) {
      if (const auto* n = std::get_if<std::int64_t>(&p)) {
        text[i] = std::to_string(*n);
        values[i] = text[i].c_str();
      } else if (const auto* t = std::get_if<std::string_view>(&p)) {
        text[i] = std::string(*t);  // NUL-terminated, as text parameters must be
        values[i] = text[i].c_str();
      } else if (const auto* b = std::get_if<blob>(&p)) {
        values[i] = b->bytes.data();
        lengths[i] = static_cast<int>(b->bytes.size());
        formats[i] = 1;
      } else {
        values[i] = nullptr;
      }
      ++i;
    }
    const std::string statement(sql);
    pg_result r(PQexecParams(c_->c, statement.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                             lengths.data(), formats.data(), 0));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return pg_error(c_->c, r.get(), statement);
    return r;
  }
  status run_plain(const char* sql) {
    auto r = run(sql, {});
    return r.status();
  }

  pg_database* owner_;
  std::unique_ptr<pg_connection> c_;
  bool signalled_ = false;
};

class pg_database final : public database {
 public:
  pg_database(std::string conninfo, options o)
      : conninfo_(std::move(conninfo)),
        options_(std::move(o)),
        pool_(options_.pool_size, options_.busy_timeout, "postgres", [this] { return connect(); }) {}
  ~pg_database() override {
    stop_ = true;
    if (listener_.joinable()) listener_.join();
  }

  result<std::unique_ptr<pg_connection>> connect() const {
    auto c = std::make_unique<pg_connection>();
    c->c = PQconnectdb(conninfo_.c_str());
    if (c->c == nullptr || PQstatus(c->c) != CONNECTION_OK) {
      return unavailable("postgres: connect to " + describe() + ": " + (c->c ? PQerrorMessage(c->c) : "out of memory"));
    }
    // Notices ("relation ... already exists, skipping") are not errors: not printed on stderr.
    PQsetNoticeProcessor(
        c->c, [](void*, const char*) {}, nullptr);
    return c;
  }

  result<std::unique_ptr<transaction>> begin() override {
    // An idle connection to a server that restarted meanwhile is reset, or replaced.
    FERRY_ASSIGN_OR_RETURN(auto c, pool_.take([](pg_connection& idle) {
      if (PQstatus(idle.c) != CONNECTION_OK) PQreset(idle.c);
      return PQstatus(idle.c) == CONNECTION_OK;
    }));
    auto tx = std::make_unique<pg_transaction>(this, std::move(c));
    FERRY_RETURN_IF_ERROR(tx->run_plain("BEGIN"));
    return std::unique_ptr<transaction>(std::move(tx));
  }
  [[nodiscard]] dialect kind() const override { return dialect::postgres; }
  [[nodiscard]] std::string describe() const override {
    // The conninfo without its password.
    PQconninfoOption* opts = PQconninfoParse(conninfo_.c_str(), nullptr);
    if (opts == nullptr) return "postgres";
    std::string user, host, port, db;
    for (auto* o = opts; o->keyword != nullptr; ++o) {
      if (o->val == nullptr) continue;
      const std::string_view k = o->keyword;
      if (k == "user") user = o->val;
      if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
      if (k == "port") port = o->val;
      if (k == "dbname") db = o->val;
    }
    PQconninfoFree(opts);
    return "postgres://" + (user.empty() ? "" : user + "@") + host + (port.empty() ? "" : ":" + port) + "/" + db;
  }
  bool wait_for_commit(std::chrono::milliseconds timeout) override {
    std::call_once(listener_once_, [this] { listener_ = std::thread([this] { listen(); }); });
    return signal_.wait(seen_, timeout);
  }
  void wake() override { signal_.notify(); }

  void give_back(std::unique_ptr<pg_connection> c) { pool_.give_back(std::move(c)); }
  detail::commit_signal& commit_signal() { return signal_; }
  [[nodiscard]] const std::string& channel() const { return options_.channel; }
  [[nodiscard]] bool notifies() const { return options_.notify_other_processes; }
  status prime() { return pool_.prime(); }

 private:
  // LISTENs on the channel and wakes waiters on each NOTIFY; reconnects (and wakes them, since
  // notifications may have been missed meanwhile) when the connection breaks.
  void listen() {
    while (!stop_) {
      auto made = connect();
      if (!made.is_ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      PGconn* c = made.value()->c;
      char* ident = PQescapeIdentifier(c, options_.channel.c_str(), options_.channel.size());
      pg_result r(PQexec(c, ("LISTEN " + std::string(ident != nullptr ? ident : "ferry_outbox")).c_str()));
      PQfreemem(ident);
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      signal_.notify();  // anything committed before LISTEN took effect
      while (!stop_ && PQstatus(c) == CONNECTION_OK) {
        pollfd p{PQsocket(c), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        if (PQconsumeInput(c) == 0) break;
        bool any = false;
        while (PGnotify* n = PQnotifies(c)) {
          any = true;
          PQfreemem(n);
        }
        if (any) signal_.notify();
      }
    }
  }

  std::string conninfo_;
  options options_;
  detail::connection_pool<pg_connection> pool_;
  detail::commit_signal signal_;
  std::uint64_t seen_ = 0;
  std::once_flag listener_once_;
  std::thread listener_;
  std::atomic<bool> stop_{false};
};

status pg_transaction::commit() {
  if (!c_) return failed_precondition("postgres: the transaction has ended");
  // A statement failed earlier: COMMIT would answer "ROLLBACK" and look like a success.
  if (PQtransactionStatus(c_->c) == PQTRANS_INERROR) {
    rollback();
    return failed_precondition("postgres: not committed: a statement of the transaction failed, so it was rolled back");
  }
  auto r = run("COMMIT", {});
  if (!r.is_ok()) {
    rollback();
    return r.status();
  }
  if (std::string_view(PQcmdStatus(r.value().get())) != "COMMIT") {
    rollback();
    return failed_precondition(std::string("postgres: not committed: the server answered ") +
                               PQcmdStatus(r.value().get()));
  }
  owner_->give_back(std::move(c_));
  if (signalled_) owner_->commit_signal().notify();
  run_on_commit();
  return status::ok();
}

void pg_transaction::rollback() {
  if (!c_) return;
  if (PQstatus(c_->c) == CONNECTION_OK && PQtransactionStatus(c_->c) != PQTRANS_IDLE) (void)run_plain("ROLLBACK");
  owner_->give_back(std::move(c_));
}

status pg_transaction::signal() {
  if (signalled_) return status::ok();  // one NOTIFY per transaction is enough
  signalled_ = true;
  if (!owner_->notifies()) return status::ok();
  return exec("SELECT pg_notify($1, '')", {owner_->channel()}).status();
}

}  // namespace

result<std::unique_ptr<database>> open_postgres(const std::string& conninfo, options o) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string m = err != nullptr ? err : "cannot parse";
    PQfreemem(err);
    return invalid_argument("postgres: connection string: " + m);
  }
  PQconninfoFree(opts);
  auto db = std::make_unique<pg_database>(conninfo, std::move(o));
  FERRY_RETURN_IF_ERROR(db->prime());
  return std::unique_ptr<database>(std::move(db));
}

}  // namespace ferry::sql
