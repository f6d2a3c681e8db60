// saga: an orchestrator for work that spans services. A saga type lists its steps; each step is
// an action (a command message to another service, or a local call in the saga's transaction)
// with a compensation that undoes it. When a step fails (its reply says so, or it times out),
// the completed steps are compensated in reverse order.
//
//   ferry::saga_definition order{.type = "order", .reply_subject = "saga.order.reply"};
//   order.steps.push_back({.name = "reserve",
//                          .command = [](const ferry::saga_instance& s) { return ferry::message("stock.reserve",
//                          s.data.dump()); }, .compensate_command = [](const ferry::saga_instance& s) { return
//                          ferry::message("stock.release", s.data.dump()); }, .timeout = 10s});
//   order.steps.push_back({.name = "charge", .command = ..., .timeout = 5s});  // the last step needs no compensation
//   order.steps.push_back({.name = "confirm", .local = [](ferry::sql::transaction& tx, ferry::saga_instance& s) { ...
//   }});
//
//   ferry::saga_orchestrator sagas(*db, outbox);
//   sagas.define(order);
//   router.add("saga-replies", "saga.order.reply", sagas.reply_handler());
//   sagas.start_timers();
//   db->in_transaction([&](auto& tx) { return sagas.start(tx, "order", order_id, {{"sku", "book"}}); });
//
// A participant answers a command with saga_reply(command, true|false), published (through its
// own outbox, with its own writes) to the command's reply subject.
//
// The guarantees:
//   * Instances are rows (id, type, status, step, data, version); every change is one transaction
//     that also holds the commands it sends (through the outbox) and the step's timeout (a row of
//     the deadline table), so a crash never leaves a state without its messages or its timer.
//   * One instance is never changed by two workers at once: its row is locked (SELECT ... FOR
//     UPDATE on PostgreSQL; SQLite transactions are serialised) and the update is a compare-and-swap
//     on the version.
//   * A reply applies only to the step and phase the instance is waiting on: a duplicate, a reply
//     to a step already timed out, or a reply after the saga ended changes nothing (logged).
//   * A timeout is a row deleted in the transaction that handles it: it fires once, also after a
//     restart, and is ignored when the step it guarded has moved on.
//   * Compensations are retried (after their timeout, or at once on a failure reply, with
//     back-off) until they succeed or max_compensation_attempts is spent; then the saga is `stuck`
//     (logged as an error, counted in ferry_saga_stuck_total) for a person to look at.
//   * Every command carries Ferry-Saga-Id (the tracing middleware records it on the span as
//     ferry.saga.id), Ferry-Saga-Type, Ferry-Saga-Step and Ferry-Saga-Reply-To.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ferry/handler.h"
#include "ferry/message.h"
#include "ferry/outbox.h"
#include "ferry/result.h"
#include "ferry/sql.h"
#include "ferry/status.h"

namespace ferry {

namespace header {
inline constexpr std::string_view saga_id = "Ferry-Saga-Id";
inline constexpr std::string_view saga_type = "Ferry-Saga-Type";
// "do:<index>:<version>" or "undo:<index>:<version>": the step, the phase and the instance's version
// when the command was sent, so a reply matches only the try it answers.
inline constexpr std::string_view saga_step = "Ferry-Saga-Step";
inline constexpr std::string_view saga_reply_to = "Ferry-Saga-Reply-To";
inline constexpr std::string_view saga_result = "Ferry-Saga-Result";  // "success" or "failure"
inline constexpr std::string_view saga_error = "Ferry-Saga-Error";
}  // namespace header

enum class saga_status : std::uint8_t {
  running,       // doing its steps
  compensating,  // a step failed: undoing the completed ones, last first
  completed,     // every step succeeded
  compensated,   // a step failed and every completed step was undone
  stuck,         // a compensation kept failing: needs a person
};
std::string_view to_string(saga_status s);

struct saga_instance {
  std::string id;
  std::string type;
  saga_status status = saga_status::running;
  // running: the step being done; compensating: the step being undone.
  std::size_t step = 0;
  bool awaiting = false;       // a command was sent for `step` and its reply is awaited
  std::uint32_t attempts = 0;  // compensating: tries of the current compensation so far
  nlohmann::json data;         // the saga's own data; steps may change it
  std::int64_t version = 0;    // bumped by every change
  std::string error;           // why it is compensating (the failed step's error)
  [[nodiscard]] bool ended() const {
    return status == saga_status::completed || status == saga_status::compensated || status == saga_status::stuck;
  }
};

// Builds a command (sent through the outbox).
using saga_command = std::function<message(const saga_instance&)>;
// Runs in the saga's transaction; a non-OK status fails the step (or the compensation).
using saga_local = std::function<status(sql::transaction&, saga_instance&)>;
// Called with a success reply before the saga moves on: may copy what the reply says into data.
using saga_on_reply = std::function<void(saga_instance&, const message&)>;

struct saga_step {
  std::string name;
  saga_command command;  // one of command and local
  saga_local local;
  saga_command compensate_command;  // at most one of these (none: nothing to undo)
  saga_local compensate_local;
  saga_on_reply on_reply;
  // Command steps: no reply by then is a failure, and the step itself is compensated too (it may
  // have happened). Compensation commands: no reply by then is a failed try. 0: no timeout.
  std::chrono::milliseconds timeout{0};
};

struct saga_definition {
  std::string type;
  std::string reply_subject;  // where participants send replies (reply_handler() is bound to it)
  std::vector<saga_step> steps;
  // Runs in the transaction that ends an instance (completed, compensated or stuck), e.g. to add
  // the outcome event to the outbox. An error fails that transaction (it is tried again).
  saga_local on_end;
};

enum class missing_saga_policy : std::uint8_t {
  ack,    // log a warning and ack (the default: a reply for a saga deleted or never started)
  retry,  // nack and retry later (the instance may not be committed yet)
  drop,   // terminate, so a dead_letter middleware keeps it
};

struct saga_options {
  std::string table = "ferry_saga";  // also <table>_deadline
  missing_saga_policy on_missing = missing_saga_policy::ack;
  std::uint32_t max_compensation_attempts = 10;
  // Between a failed compensation and its next try (doubling, at most 32 times this).
  std::chrono::milliseconds compensation_backoff{500};
  // Compensation commands without a step timeout wait this long for their reply before a new try.
  std::chrono::milliseconds compensation_timeout{30'000};
  std::chrono::milliseconds timer_interval{200};  // how often the timer thread looks for due deadlines
};

struct saga_stats {
  std::uint64_t started = 0, completed = 0, compensated = 0, stuck = 0;
  std::uint64_t steps = 0;            // steps and compensations finished (success or not)
  std::uint64_t timeouts = 0;         // deadlines that fired
  std::uint64_t ignored_replies = 0;  // duplicate, stale or late replies
};

class saga_orchestrator {
 public:
  // `db` and `box` must outlive the orchestrator; `box` is on `db`.
  saga_orchestrator(sql::database& db, const outbox& box, saga_options options = {});
  ~saga_orchestrator();
  saga_orchestrator(const saga_orchestrator&) = delete;
  saga_orchestrator& operator=(const saga_orchestrator&) = delete;

  // Creates the tables when missing (the first call) and registers a saga type (once per type:
  // already_exists for a second definition of a type).
  status define(saga_definition d);
  // Starts instance `id` of `type` in `tx` (with the caller's own writes): runs its local steps
  // and sends its first command. already_exists if an instance `id` exists (a duplicate start).
  status start(sql::transaction& tx, std::string_view type, std::string id, nlohmann::json data);
  // The router handler for replies (every type's reply subject may share it).
  [[nodiscard]] handler reply_handler();
  // Starts / stops the thread that fires due timeouts.
  status start_timers();
  void stop();
  // Fires the deadlines due now, on the caller's thread; returns how many fired.
  result<std::size_t> fire_due_timeouts();

  result<saga_instance> load(std::string_view id);
  // Instances per status ("running", "completed"...), from the table (so they survive restarts).
  result<std::map<std::string, std::int64_t>> count_by_status();
  [[nodiscard]] saga_stats stats() const;
  // ferry_saga_started_total, ..._completed_total, ..._compensated_total, ..._stuck_total,
  // ferry_saga_steps_total, ferry_saga_timeouts_total, ferry_saga_ignored_replies_total.
  [[nodiscard]] std::string prometheus_text() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A participant's answer to a saga command: a message to the command's reply subject with the
// saga headers and the result (and `error` when it failed).
message saga_reply(const message& command, bool success, std::string payload = {}, std::string_view error = {});

}  // namespace ferry
