#include "ferry/outbox.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/prometheus.h"
#include "base/subject_check.h"
#include "table_name.h"

namespace ferry {

namespace {

using sql::dialect;
using std::chrono::milliseconds;

std::string schema(dialect d, const std::string& t) {
  if (d == dialect::postgres) {
    return "CREATE TABLE IF NOT EXISTS " + t +
           " ("
           " seq BIGSERIAL PRIMARY KEY,"
           " xid xid8 NOT NULL DEFAULT pg_current_xact_id(),"
           " id TEXT NOT NULL, subject TEXT NOT NULL, msg_key TEXT NOT NULL, headers TEXT NOT NULL,"
           " payload BYTEA NOT NULL, created_ms BIGINT NOT NULL, sent_ms BIGINT,"
           " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
           "CREATE INDEX IF NOT EXISTS " +
           t + "_pending ON " + t + " (seq) WHERE sent_ms IS NULL;";
  }
  return "CREATE TABLE IF NOT EXISTS " + t +
         " ("
         " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
         " id TEXT NOT NULL, subject TEXT NOT NULL, msg_key TEXT NOT NULL, headers TEXT NOT NULL,"
         " payload BLOB NOT NULL, created_ms INTEGER NOT NULL, sent_ms INTEGER,"
         " attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);"
         "CREATE INDEX IF NOT EXISTS " +
         t + "_pending ON " + t + " (seq) WHERE sent_ms IS NULL;" + "CREATE TABLE IF NOT EXISTS " + t +
         "_lease (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until_ms INTEGER NOT NULL);";
}

// Runs each ';'-separated statement of `ddl` in one transaction. On PostgreSQL two processes
// creating the same table at once may collide on the catalog (a unique violation): the loser
// tries again and finds the table there.
status create_tables(sql::database& db, const std::string& ddl) {
  status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    last = db.in_transaction([&](sql::transaction& tx) -> status {
      std::size_t from = 0;
      while (from < ddl.size()) {
        std::size_t end = ddl.find(';', from);
        if (end == std::string::npos) end = ddl.size();
        if (end > from)
          FERRY_RETURN_IF_ERROR(detail::run_schema_statement(tx, std::string_view(ddl).substr(from, end - from)));
        from = end + 1;
      }
      return status::ok();
    });
    if (last.is_ok() || last.code() != status_code::already_exists) return last;
  }
  return last;
}

std::string encode_headers(const header_map& h) {
  if (h.empty()) return "";
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [k, v] : h) a.push_back({k, v});
  return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

header_map decode_headers(const std::string& s) {
  header_map h;
  if (s.empty()) return h;
  auto a = nlohmann::json::parse(s, nullptr, false);
  if (!a.is_array()) return h;
  for (const auto& e : a) {
    if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      h.add(e[0].get<std::string>(), e[1].get<std::string>());
    }
  }
  return h;
}

// PostgreSQL array literals for `= ANY($1::text[])`.
std::string text_array(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Bytes as upper-case hex, as SQLite's hex() writes them.
std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// An integer list as a PostgreSQL array literal ("{1,2}") or a JSON array ("[1,2]").
std::string int_list(const std::vector<std::int64_t>& v, dialect d) {
  std::string out(1, d == dialect::postgres ? '{' : '[');
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(v[i]);
  }
  out += d == dialect::postgres ? '}' : ']';
  return out;
}

std::string random_suffix() {
  const std::string id = new_id();
  return id.substr(id.size() - 6);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// outbox

result<outbox> outbox::open(sql::database& db, outbox_options options) {
  FERRY_RETURN_IF_ERROR(detail::check_table_name(options.table, "outbox table"));
  FERRY_RETURN_IF_ERROR(create_tables(db, schema(db.kind(), options.table)));
  return outbox(std::move(options), db.kind());
}

status outbox::add(sql::transaction& tx, message m) const {
  if (tx.kind() != kind_) return invalid_argument("outbox: the transaction is on another kind of database");
  FERRY_RETURN_IF_ERROR(check_subject(m.subject, subject_use::publish));
  if (m.id.empty()) m.id = new_id();
  const std::string headers = encode_headers(m.headers);
  FERRY_RETURN_IF_ERROR(
      tx.exec("INSERT INTO " + options_.table +
                  " (id, subject, msg_key, headers, payload, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
              {m.id, m.subject, m.key, headers, sql::blob{m.payload}, detail::wall_ms()})
          .status());
  return tx.signal();
}

result<outbox_pending> outbox::pending(sql::database& db) const {
  FERRY_ASSIGN_OR_RETURN(auto tx, db.begin());
  FERRY_ASSIGN_OR_RETURN(
      sql::rows r, tx->query("SELECT count(*), min(created_ms) FROM " + options_.table + " WHERE sent_ms IS NULL"));
  tx->rollback();
  outbox_pending p;
  if (!r.empty()) {
    p.rows = r[0].integer(0);
    if (!r[0].is_null(1)) p.oldest_age = milliseconds(std::max<std::int64_t>(0, detail::wall_ms() - r[0].integer(1)));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// relay

namespace {

struct pending_row {
  std::int64_t seq = 0;
  message m;
  std::int64_t attempts = 0;
};

// The outcome of publishing one batch: per row, OK once the broker acknowledged it, `cancelled`
// when it was not sent at all. Rows of one key go out one after another (the next once the
// previous was acknowledged); different keys concurrently. A row whose key failed earlier in the
// batch is not sent.
std::vector<status> publish_rows(publisher& pub, std::vector<pending_row>& rows, milliseconds timeout) {
  struct shared_state {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::size_t, status>> done;  // row index, outcome
  };
  auto st = std::make_shared<shared_state>();
  std::vector<status> out(rows.size(),
                          status(status_code::cancelled, "not sent: an earlier message of its key failed"));

  // Groups: the row indexes of one key, in order (a keyless row is a group of its own).
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string_view, std::size_t> by_key;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& k = rows[i].m.key;
    if (k.empty()) {
      groups.push_back({i});
      continue;
    }
    auto [it, fresh] = by_key.emplace(k, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<std::size_t> next(groups.size(), 0);  // per group: the position to send next
  std::vector<std::size_t> group_of(rows.size(), 0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t i : groups[g]) group_of[i] = g;
  }

  std::vector<std::size_t> ready(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) ready[g] = g;
  std::size_t outstanding = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::pair<std::size_t, status>> done;
  while (!ready.empty() || outstanding > 0) {
    for (std::size_t g : ready) {
      const std::size_t i = groups[g][next[g]++];
      out[i] = deadline_exceeded("no acknowledgement within the publish timeout");
      ++outstanding;
      pub.publish_async(rows[i].m, [st, i](status s) {
        {
          std::lock_guard lock(st->mu);
          st->done.emplace_back(i, std::move(s));
        }
        st->cv.notify_one();
      });
    }
    ready.clear();
    {
      std::unique_lock lock(st->mu);
      if (!st->cv.wait_until(lock, deadline, [&] { return !st->done.empty(); })) break;
      done.swap(st->done);
    }
    for (auto& [i, s] : done) {
      --outstanding;
      const std::size_t g = group_of[i];
      const bool ok = s.is_ok();
      out[i] = std::move(s);
      if (ok && next[g] < groups[g].size()) ready.push_back(g);
    }
    done.clear();
  }
  return out;
}

}  // namespace

struct outbox_relay::impl {
  impl(sql::database& d, publisher& p, outbox_relay_options o)
      : db(d), pub(p), options(std::move(o)), t(options.outbox.table) {
    if (options.name.empty()) options.name = "relay-" + std::to_string(::getpid()) + "-" + random_suffix();
    if (options.batch == 0) options.batch = 1;
  }

  // SQLite: takes or renews the lease; true while this relay holds it.
  result<bool> hold_lease(sql::transaction& tx) {
    const std::int64_t now = detail::wall_ms();
    FERRY_ASSIGN_OR_RETURN(
        std::int64_t n,
        tx.exec("INSERT INTO " + t + "_lease (name, owner, until_ms) VALUES ('relay', $1, $2) " +
                    "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms " + "WHERE " +
                    t + "_lease.owner = excluded.owner OR " + t + "_lease.until_ms < $3",
                {options.name, now + options.lease.count(), now}));
    return n == 1;
  }

  static pending_row to_row(const sql::row& r) {
    pending_row p;
    p.seq = r.integer(0);
    p.m.id = r.text(1);
    p.m.subject = r.text(2);
    p.m.key = r.text(3);
    p.m.headers = decode_headers(r.text(4));
    p.m.payload = r.text(5);
    p.attempts = r.integer(6);
    return p;
  }

  std::string columns() const { return "SELECT seq, id, subject, msg_key, headers, payload, attempts FROM " + t; }

  // Marks what was acknowledged and counts the failures, in `tx`.
  status mark(sql::transaction& tx, const std::vector<pending_row>& rows, const std::vector<status>& results) {
    std::vector<std::int64_t> sent;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (results[i].is_ok()) {
        sent.push_back(rows[i].seq);
        continue;
      }
      if (results[i].code() == status_code::cancelled) continue;  // not tried
      FERRY_RETURN_IF_ERROR(tx.exec("UPDATE " + t + " SET attempts = attempts + 1, last_error = $1 WHERE seq = $2",
                                    {results[i].to_string(), rows[i].seq})
                                .status());
    }
    if (sent.empty()) return status::ok();
    const bool pg = db.kind() == dialect::postgres;
    const std::string in = pg ? "seq = ANY($1::bigint[])" : "seq IN (SELECT value FROM json_each($1))";
    const std::string list = int_list(sent, db.kind());
    if (options.retention.count() == 0) return tx.exec("DELETE FROM " + t + " WHERE " + in, {list}).status();
    return tx.exec("UPDATE " + t + " SET sent_ms = $2 WHERE " + in, {list, detail::wall_ms()}).status();
  }

  // One pass on SQLite: lease and rows in a short transaction, publish outside any, mark in a
  // second short one (so the application's writers never wait on the broker).
  result<std::size_t> pass_sqlite(bool* active) {
    std::vector<pending_row> rows;
    {
      FERRY_ASSIGN_OR_RETURN(auto tx, db.begin());
      FERRY_ASSIGN_OR_RETURN(*active, hold_lease(*tx));
      if (*active) {
        std::vector<std::string> keys;
        std::vector<std::int64_t> seqs;
        held_now(keys, seqs);
        // As hex: a key is any bytes, JSON text only UTF-8.
        nlohmann::json hex_keys = nlohmann::json::array();
        for (const std::string& k : keys) hex_keys.push_back(to_hex(k));
        FERRY_ASSIGN_OR_RETURN(
            sql::rows r,
            tx->query(columns() + " WHERE sent_ms IS NULL AND hex(msg_key) NOT IN (SELECT value FROM json_each($2))"
                                  " AND seq NOT IN (SELECT value FROM json_each($3)) ORDER BY seq LIMIT $1",
                      {static_cast<std::int64_t>(options.batch), hex_keys.dump(), int_list(seqs, dialect::sqlite)}));
        for (const auto& x : r) rows.push_back(to_row(x));
      }
      FERRY_RETURN_IF_ERROR(tx->commit());
    }
    if (rows.empty()) return std::size_t{0};
    const std::vector<status> results = publish_rows(pub, rows, options.publish_timeout);
    FERRY_ASSIGN_OR_RETURN(auto tx, db.begin());
    // A pass that took longer than the lease may have let a standby take over and publish these
    // rows too (the copies carry the same ids: the broker's dedup drops them). What this relay had
    // acknowledged is marked either way; the lease is renewed if it still holds it.
    FERRY_ASSIGN_OR_RETURN(*active, hold_lease(*tx));
    FERRY_RETURN_IF_ERROR(mark(*tx, rows, results));
    FERRY_RETURN_IF_ERROR(tx->commit());
    return account(rows, results);
  }

  // One pass on PostgreSQL, in one transaction held while publishing (it holds no transaction id
  // until it marks, so it never holds back the horizon of other relays): the keys this relay can
  // lock, their oldest pending rows, and keyless rows it can lock; then publish, mark, commit
  // (which frees the locks). Rows are taken only from transactions older than the horizon (the
  // oldest transaction still running), and a key is held back while it has a committed row at or
  // above the horizon with a lower sequence: a transaction that got its id early and committed
  // late cannot get its row of a key published before an earlier row of that key.
  result<std::size_t> pass_postgres() {
    FERRY_ASSIGN_OR_RETURN(auto tx, db.begin());
    FERRY_ASSIGN_OR_RETURN(sql::rows h, tx->query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"));
    const std::string horizon = h.at(0).text(0);
    const auto limit = static_cast<std::int64_t>(options.batch);
    std::vector<std::string> held_k;
    std::vector<std::int64_t> held_s;
    held_now(held_k, held_s);
    FERRY_ASSIGN_OR_RETURN(sql::rows cand,
                           tx->query("SELECT msg_key FROM " + t +
                                         " WHERE sent_ms IS NULL AND msg_key <> '' AND xid < $2::xid8"
                                         " AND msg_key <> ALL($3::text[]) GROUP BY msg_key ORDER BY min(seq) LIMIT $1",
                                     {limit, horizon, text_array(held_k)}));
    std::vector<pending_row> rows;
    if (!cand.empty()) {
      std::vector<std::string> keys;
      for (const auto& r : cand) keys.push_back(r.text(0));
      FERRY_ASSIGN_OR_RETURN(sql::rows locked,
                             tx->query("SELECT k FROM unnest($1::text[]) AS k "
                                       "WHERE pg_try_advisory_xact_lock(hashtextextended($2 || k, 0))",
                                       {text_array(keys), t + ":"}));
      keys.clear();
      for (const auto& r : locked) keys.push_back(r.text(0));
      if (!keys.empty()) {
        // A fresh snapshot (READ COMMITTED): rows another relay marked before we locked are gone.
        FERRY_ASSIGN_OR_RETURN(sql::rows r,
                               tx->query(columns() +
                                             " r WHERE sent_ms IS NULL AND msg_key = ANY($1::text[]) AND xid < $3::xid8"
                                             " AND NOT EXISTS (SELECT 1 FROM " +
                                             t +
                                             " o WHERE o.msg_key = r.msg_key"
                                             " AND o.sent_ms IS NULL AND o.seq < r.seq AND o.xid >= $3::xid8)"
                                             " ORDER BY seq LIMIT $2",
                                         {text_array(keys), limit, horizon}));
        for (const auto& x : r) rows.push_back(to_row(x));
      }
    }
    FERRY_ASSIGN_OR_RETURN(
        sql::rows keyless,
        tx->query("SELECT seq FROM " + t +
                      " WHERE sent_ms IS NULL AND msg_key = '' AND xid < $2::xid8 AND seq <> ALL($3::bigint[])"
                      " ORDER BY seq LIMIT $1",
                  {limit, horizon, int_list(held_s, dialect::postgres)}));
    if (!keyless.empty()) {
      std::vector<std::int64_t> seqs;
      for (const auto& r : keyless) seqs.push_back(r.integer(0));
      FERRY_ASSIGN_OR_RETURN(sql::rows locked,
                             tx->query("SELECT s FROM unnest($1::bigint[]) AS s "
                                       "WHERE pg_try_advisory_xact_lock(hashtextextended($2 || s::text, 0))",
                                       {int_list(seqs, dialect::postgres), t + ":#"}));
      seqs.clear();
      for (const auto& r : locked) seqs.push_back(r.integer(0));
      if (!seqs.empty()) {
        FERRY_ASSIGN_OR_RETURN(sql::rows r,
                               tx->query(columns() + " WHERE seq = ANY($1::bigint[]) AND sent_ms IS NULL ORDER BY seq",
                                         {int_list(seqs, dialect::postgres)}));
        for (const auto& x : r) rows.push_back(to_row(x));
      }
    }
    if (rows.empty()) return std::size_t{0};
    const std::vector<status> results = publish_rows(pub, rows, options.publish_timeout);
    FERRY_RETURN_IF_ERROR(mark(*tx, rows, results));
    FERRY_RETURN_IF_ERROR(tx->commit());
    return account(rows, results);
  }

  std::size_t account(const std::vector<pending_row>& rows, const std::vector<status>& results) {
    std::size_t ok = 0;
    std::size_t failed = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (results[i].is_ok()) {
        ++ok;
      } else if (results[i].code() != status_code::cancelled) {
        ++failed;
        if (failed == 1) {
          spdlog::warn(
              "outbox relay {}: publishing {} (subject {}, attempt {}) failed: {}; it stays in {} and is tried again",
              options.name, rows[i].m.id, rows[i].m.subject, rows[i].attempts + 1, results[i].to_string(), t);
        }
      }
    }
    const auto now = std::chrono::steady_clock::now();
    // Held back at most this many keys and rows: past it (the broker is down, not refusing a few
    // messages) the relay backs off as a whole, as it did for every failure before.
    const std::size_t cap = 4 * std::max<std::size_t>(options.batch, 1);
    bool full = false;
    // A failed key (or keyless row) waits twice as long as last time, a new one retry_backoff.
    const auto hold = [&](auto& held, const auto& what) {
      if (auto it = held.find(what); it != held.end()) {
        it->second.delay = std::min<milliseconds>(it->second.delay * 2, std::chrono::seconds(30));
        it->second.until = now + it->second.delay;
      } else if (held_keys.size() + held_rows.size() >= cap) {
        full = true;
      } else {
        held.emplace(what, held_back{now + options.retry_backoff, options.retry_backoff});
      }
    };
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (results[i].code() == status_code::cancelled) continue;  // not tried: its key failed before
      const std::string& key = rows[i].m.key;
      if (results[i].is_ok()) {
        key.empty() ? held_rows.erase(rows[i].seq) : held_keys.erase(key);
      } else if (key.empty()) {
        hold(held_rows, rows[i].seq);
      } else {
        hold(held_keys, key);
      }
    }
    if (full) last_failed = true;
    stats.published += ok;
    stats.failures += failed;
    return ok;
  }

  // The keys and keyless rows to leave out of a pass (their wait is not over). Entries a minute
  // past their wait go (another relay sent those rows, or the next failure starts over).
  void held_now(std::vector<std::string>& keys, std::vector<std::int64_t>& seqs) {
    const auto now = std::chrono::steady_clock::now();
    const auto collect = [&](auto& held, auto& out) {
      for (auto it = held.begin(); it != held.end();) {
        if (it->second.until > now) out.push_back(it->first);
        it = now - it->second.until > std::chrono::minutes(1) ? held.erase(it) : std::next(it);
      }
    };
    std::lock_guard lock(mu);
    collect(held_keys, keys);
    collect(held_rows, seqs);
  }

  result<std::size_t> pass() {
    {
      std::lock_guard lock(mu);
      last_failed = false;  // this pass decides whether the relay backs off
    }
    bool active = true;
    result<std::size_t> r = db.kind() == dialect::postgres ? pass_postgres() : pass_sqlite(&active);
    const auto now = std::chrono::steady_clock::now();
    const bool refresh = now - last_pending >= std::chrono::seconds(1) || (r.is_ok() && r.value() > 0);
    std::lock_guard lock(mu);
    ++stats.passes;
    if (active != stats.active || stats.passes == 1) {
      spdlog::info("outbox relay {}: {} on {}", options.name,
                   active ? "active (holds the lease)" : "standby (another relay holds the lease)", t);
    }
    stats.active = active;
    if (!r.is_ok()) {
      ++stats.pass_errors;
      last_failed = true;
    }
    if (refresh) want_pending = true;
    return r;
  }

  void refresh_pending() {
    auto p = outbox(options.outbox, db.kind()).pending(db);
    std::lock_guard lock(mu);
    last_pending = std::chrono::steady_clock::now();
    want_pending = false;
    if (p.is_ok()) stats.pending = p.value();
  }

  void run() {
    milliseconds backoff = options.retry_backoff;
    while (!stopping.load()) {
      auto r = pass();
      bool refresh = false;
      bool failed = false;
      {
        std::lock_guard lock(mu);
        refresh = want_pending;
        failed = last_failed;
      }
      if (refresh) refresh_pending();
      if (!r.is_ok()) {
        spdlog::warn("outbox relay {}: pass over {} failed: {}; next try in {} ms", options.name, t,
                     r.status().to_string(), backoff.count());
      }
      if (failed) {
        std::unique_lock lock(mu);
        stop_cv.wait_for(lock, backoff, [&] { return stopping.load(); });
        backoff = std::min<milliseconds>(backoff * 2, std::chrono::seconds(30));
        continue;
      }
      backoff = options.retry_backoff;
      if (r.value() >= options.batch) continue;  // more is waiting
      if (options.retention.count() > 0) purge();
      db.wait_for_commit(options.poll_interval);
    }
  }

  // Deletes sent rows older than the retention, at most once a minute.
  void purge() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_purge < std::chrono::minutes(1)) return;
    last_purge = now;
    auto s = db.in_transaction([&](sql::transaction& tx) {
      return tx
          .exec("DELETE FROM " + t + " WHERE sent_ms IS NOT NULL AND sent_ms < $1",
                {detail::wall_ms() - options.retention.count()})
          .status();
    });
    if (!s.is_ok())
      spdlog::warn("outbox relay {}: deleting sent rows of {} failed: {}", options.name, t, s.to_string());
  }

  sql::database& db;
  publisher& pub;
  outbox_relay_options options;
  const std::string t;
  std::thread thread;
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;  // guards stats, last_failed, held_keys, held_rows, want_pending, last_pending
  std::condition_variable stop_cv;
  outbox_relay_stats stats;
  bool last_failed = false;
  // Keys, and keyless rows by sequence, whose last publish failed: each waits on its own clock
  // (retry_backoff, doubling up to 30 s) and is left out of the passes until then, so that a
  // message the broker keeps refusing holds up neither the other keys nor the relay. Guarded by mu.
  struct held_back {
    std::chrono::steady_clock::time_point until;
    milliseconds delay;
  };
  std::map<std::string, held_back> held_keys;
  std::map<std::int64_t, held_back> held_rows;
  bool want_pending = true;
  std::chrono::steady_clock::time_point last_pending{};
  std::chrono::steady_clock::time_point last_purge{};
};

outbox_relay::outbox_relay(sql::database& db, publisher& pub, outbox_relay_options options)
    : impl_(std::make_unique<impl>(db, pub, std::move(options))) {}

outbox_relay::~outbox_relay() { stop(); }

status outbox_relay::start() {
  if (impl_->thread.joinable()) return failed_precondition("outbox relay: already started");
  FERRY_RETURN_IF_ERROR(outbox::open(impl_->db, impl_->options.outbox).status());
  impl_->stopping = false;
  spdlog::info("outbox relay {}: relaying {} on {}", impl_->options.name, impl_->t, impl_->db.describe());
  impl_->thread = std::thread([this] { impl_->run(); });
  return status::ok();
}

void outbox_relay::stop() {
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->db.wake();
  impl_->thread.join();
  if (impl_->db.kind() == dialect::sqlite) {
    // Hands the lease over at once: a standby (or the next relay) need not wait for it to expire.
    const std::string& t = impl_->t;
    status s = impl_->db.in_transaction([&](sql::transaction& tx) {
      return tx.exec("DELETE FROM " + t + "_lease WHERE owner = $1", {impl_->options.name}).status();
    });
    if (!s.is_ok()) spdlog::warn("outbox relay {}: giving up the lease: {}", impl_->options.name, s.to_string());
  }
  spdlog::info("outbox relay {}: stopped", impl_->options.name);
}

result<std::size_t> outbox_relay::relay_once() {
  auto r = impl_->pass();
  impl_->refresh_pending();
  return r;
}

outbox_relay_stats outbox_relay::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::string outbox_relay::prometheus_text() const {
  const outbox_relay_stats s = stats();
  prometheus_writer w;
  const std::string_view table = impl_->t;
  w.family("ferry_outbox_published_total", "counter", "Outbox rows acknowledged by the broker and marked sent.");
  w.sample("ferry_outbox_published_total", {{"table", table}}, static_cast<double>(s.published));
  w.family("ferry_outbox_publish_failures_total", "counter",
           "Outbox publishes that failed (the rows are tried again).");
  w.sample("ferry_outbox_publish_failures_total", {{"table", table}}, static_cast<double>(s.failures));
  w.family("ferry_outbox_pending", "gauge", "Committed outbox rows not yet acknowledged by the broker.");
  w.sample("ferry_outbox_pending", {{"table", table}}, static_cast<double>(s.pending.rows));
  w.family("ferry_outbox_oldest_pending_seconds", "gauge", "Age of the oldest pending outbox row.");
  w.sample("ferry_outbox_oldest_pending_seconds", {{"table", table}},
           static_cast<double>(s.pending.oldest_age.count()) / 1000.0);
  return w.take();
}

}  // namespace ferry
