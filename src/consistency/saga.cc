#include "ferry/saga.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/prometheus.h"
#include "base/subject_check.h"
#include "ferry/tracing.h"
#include "table_name.h"

namespace ferry {

std::string_view to_string(saga_status s) {
  switch (s) {
    case saga_status::running:
      return "running";
    case saga_status::compensating:
      return "compensating";
    case saga_status::completed:
      return "completed";
    case saga_status::compensated:
      return "compensated";
    case saga_status::stuck:
      return "stuck";
  }
  return "?";
}

namespace {

using std::chrono::milliseconds;

std::optional<saga_status> parse_status(std::string_view s) {
  for (auto v : {saga_status::running, saga_status::compensating, saga_status::completed, saga_status::compensated,
                 saga_status::stuck}) {
    if (to_string(v) == s) return v;
  }
  return std::nullopt;
}

// What one transaction did to an instance, applied to the counters once it commits.
struct transition {
  std::optional<std::int64_t> due_ms;  // the deadline to keep (none: delete it)
  saga_stats counted;
};

// Runs a user callback; an exception is a failure of the step.
template <class F>
status guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return internal_error(std::string(what) + " threw: " + e.what());
  } catch (...) {
    return internal_error(std::string(what) + " threw");
  }
}

}  // namespace

struct saga_orchestrator::impl {
  impl(sql::database& d, const outbox& b, saga_options o) : db(d), box(b), options(std::move(o)), t(options.table) {}

  status make_tables() {
    FERRY_RETURN_IF_ERROR(detail::check_table_name(t, "saga table"));
    const char* big = db.kind() == sql::dialect::postgres ? "BIGINT" : "INTEGER";
    const std::vector<std::string> ddl = {
        "CREATE TABLE IF NOT EXISTS " + t +
            " (id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL, step INTEGER NOT NULL,"
            " awaiting INTEGER NOT NULL, attempts INTEGER NOT NULL, data TEXT NOT NULL, version " +
            big + " NOT NULL, error TEXT NOT NULL, created_ms " + big + " NOT NULL, updated_ms " + big + " NOT NULL)",
        "CREATE TABLE IF NOT EXISTS " + t + "_deadline (saga_id TEXT PRIMARY KEY, version " + big +
            " NOT NULL, due_ms " + big + " NOT NULL)",
        "CREATE INDEX IF NOT EXISTS " + t + "_deadline_due ON " + t + "_deadline (due_ms)"};
    status s;
    for (int attempt = 0; attempt < 3; ++attempt) {
      s = db.in_transaction([&](sql::transaction& tx) -> status {
        for (const auto& q : ddl) FERRY_RETURN_IF_ERROR(detail::run_schema_statement(tx, q));
        return status::ok();
      });
      if (s.is_ok() || s.code() != status_code::already_exists) break;
    }
    return s;
  }

  const saga_definition* definition(std::string_view type) {
    std::lock_guard lock(mu);
    auto it = defs.find(std::string(type));
    return it == defs.end() ? nullptr : &it->second;
  }

  [[nodiscard]] std::string lock_suffix() const { return db.kind() == sql::dialect::postgres ? " FOR UPDATE" : ""; }

  result<std::optional<saga_instance>> load(sql::transaction& tx, std::string_view id, bool for_update) {
    FERRY_ASSIGN_OR_RETURN(
        sql::rows r, tx.query("SELECT id, type, status, step, awaiting, attempts, data, version, error FROM " + t +
                                  " WHERE id = $1" + (for_update ? lock_suffix() : ""),
                              {id}));
    if (r.empty()) return std::optional<saga_instance>();
    const sql::row& x = r[0];
    saga_instance s;
    s.id = x.text(0);
    s.type = x.text(1);
    auto st = parse_status(x.text(2));
    if (!st) return data_loss("saga " + s.id + ": unknown status \"" + x.text(2) + "\" in " + t);
    s.status = *st;
    s.step = static_cast<std::size_t>(x.integer(3));
    s.awaiting = x.integer(4) != 0;
    s.attempts = static_cast<std::uint32_t>(x.integer(5));
    s.data = nlohmann::json::parse(x.text(6), nullptr, false);
    if (s.data.is_discarded()) return data_loss("saga " + s.id + ": its data in " + t + " is not JSON");
    s.version = x.integer(7);
    s.error = x.text(8);
    return std::optional<saga_instance>(std::move(s));
  }

  // Writes the instance (insert when `old_version` is 0, else compare-and-swap on it) and its deadline.
  status save(sql::transaction& tx, const saga_instance& s, std::int64_t old_version, const transition& tr) {
    const std::string data = s.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::int64_t now = detail::wall_ms();
    if (old_version == 0) {
      FERRY_RETURN_IF_ERROR(
          tx.exec(
                "INSERT INTO " + t +
                    " (id, type, status, step, awaiting, attempts, data, version, error, created_ms, updated_ms)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                {s.id, s.type, to_string(s.status), static_cast<std::int64_t>(s.step), std::int64_t{s.awaiting ? 1 : 0},
                 static_cast<std::int64_t>(s.attempts), data, s.version, s.error, now})
              .status());
    } else {
      FERRY_ASSIGN_OR_RETURN(
          std::int64_t n,
          tx.exec("UPDATE " + t +
                      " SET status = $1, step = $2, awaiting = $3, attempts = $4, data = $5, version = $6,"
                      " error = $7, updated_ms = $8 WHERE id = $9 AND version = $10",
                  {to_string(s.status), static_cast<std::int64_t>(s.step), std::int64_t{s.awaiting ? 1 : 0},
                   static_cast<std::int64_t>(s.attempts), data, s.version, s.error, now, s.id, old_version}));
      if (n != 1) {
        return unavailable("saga " + s.id + ": changed by another worker (version " + std::to_string(old_version) +
                           " is gone); try again");
      }
    }
    if (tr.due_ms) {
      return tx
          .exec("INSERT INTO " + t +
                    "_deadline (saga_id, version, due_ms) VALUES ($1, $2, $3) ON CONFLICT (saga_id) "
                    "DO UPDATE SET version = excluded.version, due_ms = excluded.due_ms",
                {s.id, s.version, *tr.due_ms})
          .status();
    }
    return tx.exec("DELETE FROM " + t + "_deadline WHERE saga_id = $1", {s.id}).status();
  }

  // Runs a local step or compensation inside a savepoint: when it fails, what it wrote is undone
  // (and on PostgreSQL the transaction stays usable), so the saga's own update still commits.
  static status local_call(sql::transaction& tx, const char* what, const saga_local& f, saga_instance& s) {
    FERRY_RETURN_IF_ERROR(tx.exec("SAVEPOINT ferry_saga_step").status());
    status r = guarded(what, [&] { return f(tx, s); });
    if (r.is_ok()) {
      FERRY_RETURN_IF_ERROR(tx.exec("RELEASE SAVEPOINT ferry_saga_step").status());
      return status::ok();
    }
    FERRY_RETURN_IF_ERROR(tx.exec("ROLLBACK TO SAVEPOINT ferry_saga_step").status());
    FERRY_RETURN_IF_ERROR(tx.exec("RELEASE SAVEPOINT ferry_saga_step").status());
    // What the step put in the saga's data stays (e.g. the reason it failed); its writes do not.
    return r;
  }

  // Puts the command of a step (or compensation) in the outbox. When the command cannot be made
  // (its builder threw, or its subject is not one to publish to) `*unmade` is set: a failure of
  // the step, as a local step that throws; any other error is the database's (the transition is
  // tried again).
  status send(sql::transaction& tx, const saga_definition& d, const saga_instance& s, std::string_view phase,
              const saga_command& build, bool* unmade) {
    message m;
    status made = guarded("saga command", [&] {
      m = build(s);
      return status::ok();
    });
    if (made.is_ok()) made = check_subject(m.subject, subject_use::publish);
    *unmade = !made.is_ok();
    FERRY_RETURN_IF_ERROR(made);
    // The step, its phase and the instance's version: a reply matches only the try it answers.
    const std::string step = std::string(phase) + ":" + std::to_string(s.step) + ":" + std::to_string(s.version);
    // One id per try: a relay that sends this row again reuses it (dedup), a new try gets a new one.
    m.id = s.id + ":" + step;
    if (m.key.empty()) m.key = s.id;
    m.headers.set(std::string(header::saga_id), s.id);
    m.headers.set(std::string(header::saga_type), s.type);
    m.headers.set(std::string(header::saga_step), step);
    m.headers.set(std::string(header::saga_reply_to), d.reply_subject);
    if (!m.headers.contains(header::traceparent)) {
      if (std::string tp = current_traceparent(); !tp.empty()) m.headers.set(std::string(header::traceparent), tp);
    }
    return box.add(tx, std::move(m));
  }

  // Moves to compensation after step s.step failed; `include_current`: the failed step may have
  // happened (it timed out), so it is undone too.
  void begin_compensation(saga_instance& s, std::string why, bool include_current) {
    spdlog::warn("saga {} ({}): {}; compensating", s.id, s.type, why);
    s.status = saga_status::compensating;
    s.error = std::move(why);
    s.attempts = 0;
    s.awaiting = false;
    if (!include_current) step_down(s);
  }
  static void step_down(saga_instance& s) {
    if (s.step == 0) {
      s.status = saga_status::compensated;
    } else {
      --s.step;
    }
  }
  milliseconds backoff(std::uint32_t attempts) const {
    const std::uint32_t shift = std::min<std::uint32_t>(attempts > 0 ? attempts - 1 : 0, 5);
    return options.compensation_backoff * (1 << shift);
  }
  // A compensation try failed: try again after a back-off, or give up.
  void compensation_failed(saga_instance& s, transition& tr, const std::string& why) {
    ++s.attempts;
    s.awaiting = false;
    if (s.attempts >= options.max_compensation_attempts) {
      s.status = saga_status::stuck;
      s.error = "compensation of step " + std::to_string(s.step) + " failed " + std::to_string(s.attempts) +
                " times, last: " + why;
      ++tr.counted.stuck;
      spdlog::error("saga {} ({}) is stuck: {}", s.id, s.type, s.error);
      return;
    }
    tr.due_ms = detail::wall_ms() + backoff(s.attempts).count();
    spdlog::warn("saga {} ({}): compensation of step {} failed (try {}): {}; again in {} ms", s.id, s.type, s.step,
                 s.attempts, why, backoff(s.attempts).count());
  }

  // Runs the instance forward until it waits for a reply or a timer, or ends.
  status advance(sql::transaction& tx, const saga_definition& d, saga_instance& s, transition& tr) {
    tr.due_ms.reset();
    while (!s.ended()) {
      if (s.status == saga_status::running) {
        if (s.step >= d.steps.size()) {
          s.status = saga_status::completed;
          ++tr.counted.completed;
          break;
        }
        const saga_step& st = d.steps[s.step];
        if (st.local) {
          status r = local_call(tx, "saga step", st.local, s);
          if (r.code() == status_code::unavailable) return r;  // the database is busy: retry the transition
          ++tr.counted.steps;
          if (r.is_ok()) {
            ++s.step;
          } else {
            begin_compensation(s, "step " + st.name + " failed: " + r.to_string(), false);
          }
          continue;
        }
        bool unmade = false;
        if (status r = send(tx, d, s, "do", st.command, &unmade); !r.is_ok()) {
          if (!unmade) return r;
          ++tr.counted.steps;
          begin_compensation(s, "step " + st.name + " failed: its command could not be made: " + r.to_string(), false);
          continue;
        }
        s.awaiting = true;
        if (st.timeout.count() > 0) tr.due_ms = detail::wall_ms() + st.timeout.count();
        break;
      }
      // compensating
      const saga_step& st = d.steps[s.step];
      if (st.compensate_local) {
        status r = local_call(tx, "saga compensation", st.compensate_local, s);
        if (r.code() == status_code::unavailable) return r;
        ++tr.counted.steps;
        if (!r.is_ok()) {
          compensation_failed(s, tr, r.to_string());
          break;
        }
        s.attempts = 0;
        step_down(s);
        continue;
      }
      if (st.compensate_command) {
        bool unmade = false;
        if (status r = send(tx, d, s, "undo", st.compensate_command, &unmade); !r.is_ok()) {
          if (!unmade) return r;
          compensation_failed(s, tr, "its command could not be made: " + r.to_string());
          break;
        }
        s.awaiting = true;
        const milliseconds wait = st.timeout.count() > 0 ? st.timeout : options.compensation_timeout;
        tr.due_ms = detail::wall_ms() + wait.count();
        break;
      }
      step_down(s);  // nothing to undo
    }
    if (s.status == saga_status::compensated && tr.counted.compensated == 0) ++tr.counted.compensated;
    return status::ok();
  }

  void count_on_commit(sql::transaction& tx, const transition& tr) {
    tx.on_commit([this, c = tr.counted] {
      std::lock_guard lock(mu);
      stats.started += c.started;
      stats.completed += c.completed;
      stats.compensated += c.compensated;
      stats.stuck += c.stuck;
      stats.steps += c.steps;
      stats.timeouts += c.timeouts;
      stats.ignored_replies += c.ignored_replies;
    });
  }

  void ignored() {
    std::lock_guard lock(mu);
    ++stats.ignored_replies;
  }

  // One reply, in its own transaction.
  outcome on_reply(message& m) {
    const auto id = m.headers.get(header::saga_id);
    const auto step = m.headers.get(header::saga_step);
    const auto result = m.headers.get(header::saga_result);
    if (!id || !step || !result || (*result != "success" && *result != "failure")) {
      return outcome::drop(invalid_argument("saga reply " + m.id + " on " + m.subject + " lacks " +
                                            std::string(header::saga_id) + ", " + std::string(header::saga_step) +
                                            " or a " + std::string(header::saga_result) + " of success/failure"));
    }
    auto tx = db.begin();
    if (!tx.is_ok()) return outcome::retry(tx.status());
    auto loaded = load(*tx.value(), *id, true);
    if (!loaded.is_ok()) return outcome::retry(loaded.status());
    if (!loaded.value()) {
      const std::string why = "saga reply " + m.id + ": no saga instance " + std::string(*id);
      switch (options.on_missing) {
        case missing_saga_policy::ack:
          spdlog::warn("{}; acked and ignored", why);
          ignored();
          return outcome::ack();
        case missing_saga_policy::retry:
          return outcome::retry(not_found(why));
        case missing_saga_policy::drop:
          return outcome::drop(not_found(why));
      }
    }
    saga_instance s = std::move(*loaded.value());
    const saga_definition* d = definition(s.type);
    if (d == nullptr)
      return outcome::retry(failed_precondition("saga " + s.id + ": type " + s.type + " is not defined here"));
    const std::string expected = std::string(s.status == saga_status::compensating ? "undo:" : "do:") +
                                 std::to_string(s.step) + ":" + std::to_string(s.version);
    if (s.ended() || !s.awaiting || *step != expected) {
      spdlog::info("saga {} ({}): reply {} for step {} ignored: the saga is {}{}", s.id, s.type, m.id, *step,
                   to_string(s.status), s.ended() ? " (ended)" : ", waiting on " + (s.awaiting ? expected : "a timer"));
      ignored();
      return outcome::ack();
    }
    const std::int64_t old_version = s.version++;
    transition tr;
    ++tr.counted.steps;
    const bool success = *result == "success";
    if (s.status == saga_status::running) {
      s.awaiting = false;
      if (success) {
        const saga_step& st = d->steps[s.step];
        if (st.on_reply) {
          status r = guarded("saga on_reply", [&] {
            st.on_reply(s, m);
            return status::ok();
          });
          if (!r.is_ok()) return outcome::retry(r);
        }
        ++s.step;
      } else {
        begin_compensation(
            s,
            "step " + d->steps[s.step].name + " failed: " + m.headers.value_or(header::saga_error, "(no reason given)"),
            false);
      }
      if (status r = advance(*tx.value(), *d, s, tr); !r.is_ok()) return outcome::retry(r);
    } else if (success) {
      s.awaiting = false;
      s.attempts = 0;
      step_down(s);
      if (status r = advance(*tx.value(), *d, s, tr); !r.is_ok()) return outcome::retry(r);
    } else {
      compensation_failed(s, tr, m.headers.value_or(header::saga_error, "(no reason given)"));
    }
    if (status r = end_hook(*tx.value(), *d, s); !r.is_ok()) return outcome::retry(r);
    if (status r = save(*tx.value(), s, old_version, tr); !r.is_ok()) return outcome::retry(r);
    count_on_commit(*tx.value(), tr);
    if (status r = tx.value()->commit(); !r.is_ok()) return outcome::retry(r);
    log_end(s);
    return outcome::ack();
  }

  // Runs the type's on_end hook when this transition ended the instance.
  static status end_hook(sql::transaction& tx, const saga_definition& d, saga_instance& s) {
    if (!s.ended() || !d.on_end) return status::ok();
    return guarded("saga on_end", [&] { return d.on_end(tx, s); });
  }

  static void log_end(const saga_instance& s) {
    if (s.status == saga_status::completed) spdlog::info("saga {} ({}) completed", s.id, s.type);
    if (s.status == saga_status::compensated) spdlog::info("saga {} ({}) compensated: {}", s.id, s.type, s.error);
  }

  // Fires one deadline, in its own transaction; false if it was not due any more.
  result<bool> fire(const std::string& id) {
    FERRY_ASSIGN_OR_RETURN(auto tx, db.begin());
    FERRY_ASSIGN_OR_RETURN(auto loaded, load(*tx, id, true));  // the instance first: the same lock order as replies
    FERRY_ASSIGN_OR_RETURN(sql::rows due,
                           tx->query("SELECT version FROM " + t + "_deadline WHERE saga_id = $1 AND due_ms <= $2",
                                     {id, detail::wall_ms()}));
    if (due.empty()) return false;  // handled by another worker, or moved
    FERRY_RETURN_IF_ERROR(tx->exec("DELETE FROM " + t + "_deadline WHERE saga_id = $1", {id}).status());
    if (!loaded || loaded->ended() || loaded->version != due[0].integer(0)) {
      FERRY_RETURN_IF_ERROR(tx->commit());
      return false;  // the step it guarded has moved on
    }
    saga_instance s = std::move(*loaded);
    const saga_definition* d = definition(s.type);
    if (d == nullptr) return failed_precondition("saga " + s.id + ": type " + s.type + " is not defined here");
    const std::int64_t old_version = s.version++;
    transition tr;
    ++tr.counted.timeouts;
    if (s.status == saga_status::running && s.awaiting) {
      begin_compensation(s, "step " + d->steps[s.step].name + " timed out", true);
      FERRY_RETURN_IF_ERROR(advance(*tx, *d, s, tr));
    } else if (s.status == saga_status::compensating && s.awaiting) {
      compensation_failed(s, tr, "no reply within the timeout");
      if (s.status == saga_status::compensating && tr.due_ms) {
        // Retry at once: the timeout already was the wait.
        FERRY_RETURN_IF_ERROR(advance(*tx, *d, s, tr));
      }
    } else {
      FERRY_RETURN_IF_ERROR(advance(*tx, *d, s, tr));  // a back-off ended: try the compensation again
    }
    FERRY_RETURN_IF_ERROR(end_hook(*tx, *d, s));
    FERRY_RETURN_IF_ERROR(save(*tx, s, old_version, tr));
    count_on_commit(*tx, tr);
    FERRY_RETURN_IF_ERROR(tx->commit());
    log_end(s);
    return true;
  }

  result<std::size_t> fire_due() {
    struct due_deadline {
      std::string id;
      std::int64_t version, due_ms;
    };
    std::vector<due_deadline> deadlines;
    {
      // Only instances of the types this process defines (and deadlines left by deleted ones):
      // another service's sagas in the same table, or a type retired in a rolling deploy, are
      // not this process's to fire, and would take the first places of every pass.
      nlohmann::json types = nlohmann::json::array();
      {
        std::lock_guard lock(mu);
        for (const auto& [name, def] : defs) types.push_back(name);
      }
      const std::string in_types = db.kind() == sql::dialect::postgres
                                       ? "s.type IN (SELECT json_array_elements_text($2::json))"
                                       : "s.type IN (SELECT value FROM json_each($2))";
      FERRY_ASSIGN_OR_RETURN(auto tx, db.begin());
      FERRY_ASSIGN_OR_RETURN(
          sql::rows r,
          tx->query("SELECT d.saga_id, d.version, d.due_ms FROM " + t + "_deadline d LEFT JOIN " + t +
                        " s ON s.id = d.saga_id WHERE d.due_ms <= $1 AND (s.id IS NULL OR " + in_types +
                        ") ORDER BY d.due_ms LIMIT 100",
                    {detail::wall_ms(), types.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}));
      tx->rollback();
      for (const auto& x : r) deadlines.push_back({x.text(0), x.integer(1), x.integer(2)});
    }
    std::size_t fired = 0;
    for (const auto& [id, version, due_ms] : deadlines) {
      auto r = fire(id);
      if (!r.is_ok()) {
        // Moved back, so that deadlines failing for good (a failing on_end hook, unreadable data)
        // do not take every pass's first places from the others; only if nobody moved it since.
        const auto later = detail::wall_ms() + failed_deadline_delay.count();
        const status moved = db.in_transaction([&](sql::transaction& tx) {
          return tx
              .exec("UPDATE " + t + "_deadline SET due_ms = $2 WHERE saga_id = $1 AND version = $3 AND due_ms = $4",
                    {id, later, version, due_ms})
              .status();
        });
        spdlog::warn("saga {}: firing its timeout failed: {}; tried again in {} s{}", id, r.status().to_string(),
                     failed_deadline_delay.count() / 1000, moved.is_ok() ? "" : " (moving it failed too)");
        continue;
      }
      if (r.value()) ++fired;
    }
    return fired;
  }

  static constexpr milliseconds failed_deadline_delay{5'000};
  sql::database& db;
  const outbox& box;
  saga_options options;
  const std::string t;
  mutable std::mutex mu;  // guards defs, stats, tables_made
  std::condition_variable cv;
  std::map<std::string, saga_definition> defs;
  saga_stats stats;
  bool tables_made = false;
  std::thread timer;
  bool stopping = false;
};

saga_orchestrator::saga_orchestrator(sql::database& db, const outbox& box, saga_options options)
    : impl_(std::make_unique<impl>(db, box, std::move(options))) {}

saga_orchestrator::~saga_orchestrator() { stop(); }

status saga_orchestrator::define(saga_definition d) {
  if (d.type.empty()) return invalid_argument("saga: a type name is needed");
  if (d.steps.empty()) return invalid_argument("saga " + d.type + ": no steps");
  for (const auto& s : d.steps) {
    if (!s.command == !s.local)
      return invalid_argument("saga " + d.type + ", step " + s.name + ": give exactly one of command and local");
    if (s.compensate_command && s.compensate_local) {
      return invalid_argument("saga " + d.type + ", step " + s.name +
                              ": give at most one of compensate_command and compensate_local");
    }
    if ((s.command || s.compensate_command) && d.reply_subject.empty()) {
      return invalid_argument("saga " + d.type + ": command steps need a reply_subject");
    }
  }
  bool make = false;
  {
    std::lock_guard lock(impl_->mu);
    make = !impl_->tables_made;
  }
  if (make) {
    FERRY_RETURN_IF_ERROR(impl_->make_tables());
  }
  std::lock_guard lock(impl_->mu);
  impl_->tables_made = true;
  // Handlers may be using a definition: one type is defined once per orchestrator.
  if (impl_->defs.contains(d.type)) return already_exists("saga type " + d.type + " is already defined");
  impl_->defs.emplace(d.type, std::move(d));
  return status::ok();
}

status saga_orchestrator::start(sql::transaction& tx, std::string_view type, std::string id, nlohmann::json data) {
  const saga_definition* d = impl_->definition(type);
  if (d == nullptr) return not_found("saga type " + std::string(type) + " is not defined");
  if (id.empty()) return invalid_argument("saga " + std::string(type) + ": empty instance id");
  FERRY_ASSIGN_OR_RETURN(auto existing, impl_->load(tx, id, false));
  if (existing) return already_exists("saga " + id + " exists (" + std::string(to_string(existing->status)) + ")");
  saga_instance s;
  s.id = std::move(id);
  s.type = std::string(type);
  s.data = std::move(data);
  s.version = 1;
  transition tr;
  tr.counted.started = 1;
  FERRY_RETURN_IF_ERROR(impl_->advance(tx, *d, s, tr));
  FERRY_RETURN_IF_ERROR(impl_->end_hook(tx, *d, s));
  FERRY_RETURN_IF_ERROR(impl_->save(tx, s, 0, tr));
  impl_->count_on_commit(tx, tr);
  return status::ok();
}

handler saga_orchestrator::reply_handler() {
  return [this](message& m) { return impl_->on_reply(m); };
}

status saga_orchestrator::start_timers() {
  if (impl_->timer.joinable()) return failed_precondition("saga timers already started");
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = false;
  }
  impl_->timer = std::thread([this] {
    std::unique_lock lock(impl_->mu);
    while (!impl_->stopping) {
      lock.unlock();
      auto r = impl_->fire_due();
      if (!r.is_ok()) spdlog::warn("saga timers: {}", r.status().to_string());
      lock.lock();
      impl_->cv.wait_for(lock, impl_->options.timer_interval, [&] { return impl_->stopping; });
    }
  });
  return status::ok();
}

void saga_orchestrator::stop() {
  if (!impl_->timer.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->timer.join();
}

result<std::size_t> saga_orchestrator::fire_due_timeouts() { return impl_->fire_due(); }

result<saga_instance> saga_orchestrator::load(std::string_view id) {
  FERRY_ASSIGN_OR_RETURN(auto tx, impl_->db.begin());
  FERRY_ASSIGN_OR_RETURN(auto s, impl_->load(*tx, id, false));
  tx->rollback();
  if (!s) return not_found("no saga instance " + std::string(id));
  return std::move(*s);
}

result<std::map<std::string, std::int64_t>> saga_orchestrator::count_by_status() {
  FERRY_ASSIGN_OR_RETURN(auto tx, impl_->db.begin());
  FERRY_ASSIGN_OR_RETURN(sql::rows r, tx->query("SELECT status, count(*) FROM " + impl_->t + " GROUP BY status"));
  std::map<std::string, std::int64_t> out;
  for (const auto& x : r) out[x.text(0)] = x.integer(1);
  return out;
}

saga_stats saga_orchestrator::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::string saga_orchestrator::prometheus_text() const {
  const saga_stats s = stats();
  prometheus_writer w;
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
    w.family(name, "counter", help);
    w.sample(name, {{"table", impl_->t}}, static_cast<double>(v));
  };
  counter("ferry_saga_started_total", "Saga instances started.", s.started);
  counter("ferry_saga_completed_total", "Saga instances whose steps all succeeded.", s.completed);
  counter("ferry_saga_compensated_total", "Saga instances undone after a failed step.", s.compensated);
  counter("ferry_saga_stuck_total", "Saga instances whose compensation kept failing.", s.stuck);
  counter("ferry_saga_steps_total", "Saga steps and compensations finished.", s.steps);
  counter("ferry_saga_timeouts_total", "Saga deadlines that fired.", s.timeouts);
  counter("ferry_saga_ignored_replies_total", "Duplicate, stale or late saga replies.", s.ignored_replies);
  return w.take();
}

message saga_reply(const message& command, bool success, std::string payload, std::string_view error) {
  message r(std::string(command.headers.value_or(header::saga_reply_to, "")), std::move(payload));
  for (auto h : {header::saga_id, header::saga_type, header::saga_step}) {
    if (auto v = command.headers.get(h)) r.headers.set(std::string(h), std::string(*v));
  }
  r.headers.set(std::string(header::saga_result), success ? "success" : "failure");
  if (!error.empty()) r.headers.set(std::string(header::saga_error), std::string(error));
  // One reply per command: a participant that answers the same command twice sends the same id.
  r.id = command.id.empty() ? new_id() : command.id + ":reply";
  r.key = std::string(command.headers.value_or(header::saga_id, ""));
  return r;
}

}  // namespace ferry
