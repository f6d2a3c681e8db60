// outbox and inbox: a service's database and its messages agree.
//
// Outbox. The business rows and the messages they cause are written in one transaction; a relay
// publishes the committed messages through any transport, waits for the broker's acknowledgement,
// and only then marks them sent. No crash can leave an order that nobody hears of, and no message
// leaves for a transaction that rolled back.
//
//   auto db = ferry::sql::open("sqlite:///var/lib/orders/orders.db").value();
//   auto box = ferry::outbox::open(*db).value();
//   db->in_transaction([&](ferry::sql::transaction& tx) -> ferry::status {
//     FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO orders(id) VALUES ($1)", {id}).status());
//     ferry::message m("order.created", body);
//     m.key = id;                                    // one order's messages keep their order
//     return box.add(tx, std::move(m));
//   });
//   ferry::outbox_relay relay(*db, *transport);      // a thread that publishes and marks
//   relay.start();
//
// Delivery is at least once: a relay that crashes after the broker acknowledged and before it
// marked the rows sends them again, with the same message id (the row keeps it), so JetStream's
// Nats-Msg-Id dedup window or the consumer's inbox drops the copy. Order: messages with one key
// are published in the order their transactions committed, one after another (the next is sent
// once the broker acknowledged the previous one); different keys are published concurrently.
// Several relays may run at once on PostgreSQL: each takes the keys it can lock
// (pg_try_advisory_xact_lock, so two relays never publish one key at once) and only rows of
// transactions older than the oldest one still running, so a row committed late with a lower
// sequence is never skipped. On SQLite one relay at a time works (a lease row; a second relay
// waits as a standby and takes over when the lease expires).
//
// Inbox. A consumer's database writes and the record "message X handled" commit in one
// transaction, so a redelivered message changes nothing twice, even if the process died after the
// commit and before the ack:
//
//   auto in = ferry::inbox::open(*db, {.consumer = "inventory"}).value();
//   router.add("reserve", "order.created", in.wrap([&](ferry::sql::transaction& tx, ferry::message& m) {
//     return reserve_stock(tx, m);                   // commits with the inbox row, or not at all
//   }));
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "ferry/handler.h"
#include "ferry/message.h"
#include "ferry/result.h"
#include "ferry/sql.h"
#include "ferry/status.h"
#include "ferry/transport.h"

namespace ferry {

struct outbox_options {
  std::string table = "ferry_outbox";  // [A-Za-z_][A-Za-z0-9_]*; created when missing
};

// What a relay or an inspection finds in the outbox table.
struct outbox_pending {
  std::int64_t rows = 0;                    // committed, not yet acknowledged by the broker
  std::chrono::milliseconds oldest_age{0};  // how long the oldest of them has waited
};

class outbox {
 public:
  // Creates the table (and its index) when missing.
  static result<outbox> open(sql::database& db, outbox_options options = {});

  // Adds `m` to the messages of `tx`: sent once tx commits, never if it rolls back. Sets m.id
  // when empty (the id every copy of this message will carry). The subject is checked as a
  // publish subject now, so a bad one fails the transaction, not the relay later.
  status add(sql::transaction& tx, message m) const;
  result<outbox_pending> pending(sql::database& db) const;
  [[nodiscard]] const std::string& table() const { return options_.table; }
  [[nodiscard]] sql::dialect kind() const { return kind_; }

 private:
  friend class outbox_relay;
  outbox(outbox_options o, sql::dialect kind) : options_(std::move(o)), kind_(kind) {}
  outbox_options options_;
  sql::dialect kind_;
};

struct outbox_relay_options {
  outbox_options outbox;
  std::size_t batch = 256;                            // rows taken per pass
  std::chrono::milliseconds poll_interval{1'000};     // a pass at least this often (no wake-up needed)
  std::chrono::milliseconds publish_timeout{30'000};  // a pass gives up on acknowledgements after this
  // Sent rows are kept this long, then deleted (0: deleted as soon as they are acknowledged).
  std::chrono::milliseconds retention{0};
  // After a failed publish, a key waits this long before its next try (doubling up to 30 s).
  std::chrono::milliseconds retry_backoff{200};
  // SQLite: how long the relay's lease lasts without renewal (each pass renews it) before a
  // standby takes over: after a crash, the outbox waits this long unless the relay comes back
  // under the same name.
  std::chrono::milliseconds lease{10'000};
  // This relay in logs and the lease ("relay-<pid>-<random>" when empty). Give a service's relay
  // a stable name (the service instance's): restarted after a crash, it takes its lease back at
  // once instead of waiting for it to expire. Two relays running under one name both publish.
  std::string name;
};

struct outbox_relay_stats {
  std::uint64_t published = 0;    // rows acknowledged by the broker and marked sent
  std::uint64_t failures = 0;     // publishes that failed (the rows stay and are tried again)
  std::uint64_t passes = 0;       // passes over the table
  std::uint64_t pass_errors = 0;  // passes that failed at the database
  outbox_pending pending;         // as of the last pass
  bool active = false;            // SQLite: holds the lease (PostgreSQL: always true)
};

class outbox_relay {
 public:
  // `db` and `pub` must outlive the relay.
  outbox_relay(sql::database& db, publisher& pub, outbox_relay_options options = {});
  ~outbox_relay();
  outbox_relay(const outbox_relay&) = delete;
  outbox_relay& operator=(const outbox_relay&) = delete;

  // Creates the table when missing and starts the relay's thread: a pass whenever a transaction
  // with outbox messages commits (in this process; on PostgreSQL in any), and every poll_interval.
  status start();
  // Finishes the pass under way and stops; on SQLite gives up the lease, so another relay takes
  // over at once. Idempotent; the destructor calls it.
  void stop();
  // One pass, on the caller's thread: publishes what is pending (up to `batch` rows) and marks
  // it. Returns how many rows were published and marked. For tests and for callers without a thread.
  result<std::size_t> relay_once();

  [[nodiscard]] outbox_relay_stats stats() const;
  // ferry_outbox_published_total, ferry_outbox_publish_failures_total, ferry_outbox_pending,
  // ferry_outbox_oldest_pending_seconds (labels: table), in the Prometheus text format.
  [[nodiscard]] std::string prometheus_text() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct inbox_options {
  std::string consumer;                                         // who handled it: each consumer has its own record
  std::string table = "ferry_inbox";                            // created when missing
  std::chrono::milliseconds retention{7LL * 24 * 3600 * 1000};  // records older than this are deleted
};

// The handler an inbox wraps: runs inside the transaction that also records the message.
using transactional_handler = std::function<outcome(sql::transaction&, message&)>;

class inbox {
 public:
  static result<inbox> open(sql::database& db, inbox_options options);

  // A router handler: begins a transaction, records m.id for this consumer (a message already
  // recorded is acked at once and `f` is not called), runs `f`, and commits when `f` acks
  // (rolls back otherwise, so a retry starts clean). A commit that fails is a retry. A message
  // without an id is dropped (nothing could recognise its copies).
  [[nodiscard]] handler wrap(transactional_handler f) const;
  // Records m.id in `tx` by hand; false if it was recorded already (a duplicate).
  result<bool> record(sql::transaction& tx, const message& m) const;
  // Deletes records older than the retention; returns how many.
  result<std::int64_t> purge() const;

 private:
  inbox(sql::database& db, inbox_options o) : db_(&db), options_(std::move(o)) {}
  sql::database* db_;
  inbox_options options_;
};

}  // namespace ferry
