// The saga orchestrator on both databases: commands go out through the outbox and the relay to
// the in-process transport; the test plays the participants and hands their replies to the
// orchestrator's reply handler.
#include "ferry/saga.h"

#include <thread>

#include "sql/db_fixture.h"
#include "ferry/inproc.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing_db::db_test;
using testing_db::received;

class Saga : public db_test {
 protected:
  void SetUp() override {
    db_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    bus_ = inproc::make_transport();
    box_.emplace(outbox::open(db()).value());
    relay_ = std::make_unique<outbox_relay>(db(), *bus_);
    auto sub = bus_->subscribe("cmd.>", {}, commands_.callback());
    ASSERT_TRUE(sub.is_ok());
    sub_ = std::move(sub).value();
    ASSERT_TRUE(db().in_transaction([](sql::transaction& tx) -> status {
                      FERRY_RETURN_IF_ERROR(tx.exec("CREATE TABLE confirmed (order_id TEXT PRIMARY KEY)").status());
                      return tx.exec("CREATE TABLE ended (id TEXT PRIMARY KEY, status TEXT NOT NULL)").status();
                    })
                    .is_ok());
    orchestrator_ = make_orchestrator(db());
  }
  void TearDown() override {
    orchestrator_.reset();
    relay_.reset();
    sub_.reset();
    bus_.reset();
    db_test::TearDown();
  }

  // reserve (undo: release), charge (undo: refund), ship (no undo), then a local confirm.
  saga_definition order_saga(std::chrono::milliseconds step_timeout = 0ms) {
    saga_definition d{.type = "order", .reply_subject = "saga.order.reply"};
    auto cmd = [](std::string subject) {
      return [subject](const saga_instance& s) { return message(subject, s.data.dump()); };
    };
    d.steps.push_back({.name = "reserve",
                       .command = cmd("cmd.reserve"),
                       .compensate_command = cmd("cmd.release"),
                       .timeout = step_timeout});
    d.steps.push_back({.name = "charge",
                       .command = cmd("cmd.charge"),
                       .compensate_command = cmd("cmd.refund"),
                       .on_reply = [](saga_instance& s, const message& r) { s.data["payment"] = r.payload; },
                       .timeout = step_timeout});
    d.steps.push_back({.name = "ship", .command = cmd("cmd.ship"), .timeout = step_timeout});
    d.steps.push_back({.name = "confirm", .local = [](sql::transaction& tx, saga_instance& s) {
                         return tx.exec("INSERT INTO confirmed VALUES ($1)", {s.id}).status();
                       }});
    d.on_end = [](sql::transaction& tx, saga_instance& s) {
      return tx.exec("INSERT INTO ended VALUES ($1, $2)", {s.id, to_string(s.status)}).status();
    };
    return d;
  }
  std::unique_ptr<saga_orchestrator> make_orchestrator(sql::database& d, saga_options o = {},
                                                       std::chrono::milliseconds step_timeout = 0ms) {
    auto orch = std::make_unique<saga_orchestrator>(d, *box_, o);
    EXPECT_TRUE(orch->define(order_saga(step_timeout)).is_ok());
    return orch;
  }
  status start(const std::string& id) {
    return db().in_transaction([&](sql::transaction& tx) {
      return orchestrator_->start(tx, "order", id, {{"order", id}, {"amount", 25}});
    });
  }
  // Relays the outbox and returns the next command the participants receive.
  message next_command() {
    const std::size_t want = seen_ + 1;
    for (int i = 0; i < 200 && commands_.all().size() < want; ++i) {
      EXPECT_TRUE(relay_->relay_once().is_ok());
      commands_.wait_for(want, 20ms);
    }
    auto all = commands_.all();
    EXPECT_GE(all.size(), want) << "no command came";
    if (all.size() < want) return message();
    return all[seen_++];
  }
  // The subjects of every command sent so far (relaying what is pending first).
  std::vector<std::string> subjects() {
    for (;;) {
      auto r = relay_->relay_once();
      if (!r.is_ok() || r.value() == 0) break;
    }
    std::this_thread::sleep_for(100ms);
    std::vector<std::string> out;
    for (const auto& m : commands_.all()) out.push_back(m.subject);
    return out;
  }
  outcome reply(const message& cmd, bool ok, std::string payload = "") {
    message r = saga_reply(cmd, ok, std::move(payload), ok ? "" : "declined");
    EXPECT_EQ(r.subject, "saga.order.reply");
    return orchestrator_->reply_handler()(r);
  }
  saga_instance load(const std::string& id) { return orchestrator_->load(id).value(); }
  bool confirmed(const std::string& id) {
    auto tx = db().begin();
    return tx.value()->query("SELECT count(*) FROM confirmed WHERE order_id = $1", {id}).value()[0].integer(0) == 1;
  }
  // What on_end recorded for `id` ("" when it did not run).
  std::string ended(const std::string& id) {
    auto tx = db().begin();
    auto r = tx.value()->query("SELECT status FROM ended WHERE id = $1", {id});
    return r.is_ok() && !r.value().empty() ? r.value()[0].text(0) : "";
  }

  std::unique_ptr<transport> bus_;
  std::optional<outbox> box_;
  std::unique_ptr<outbox_relay> relay_;
  received commands_;
  std::size_t seen_ = 0;
  std::unique_ptr<subscription> sub_;
  std::unique_ptr<saga_orchestrator> orchestrator_;
};

TEST_P(Saga, EveryStepSucceedsAndTheSagaCompletes) {
  ASSERT_TRUE(start("o1").is_ok());
  message reserve = next_command();
  EXPECT_EQ(reserve.subject, "cmd.reserve");
  EXPECT_EQ(reserve.headers.value_or(header::saga_id, ""), "o1");
  EXPECT_EQ(reserve.headers.value_or(header::saga_step, ""), "do:0:1") << "step, phase, version";
  EXPECT_EQ(reserve.key, "o1");
  EXPECT_TRUE(reply(reserve, true).is_ack());
  message charge = next_command();
  EXPECT_EQ(charge.subject, "cmd.charge");
  EXPECT_TRUE(reply(charge, true, "paid-77").is_ack());
  message ship = next_command();
  EXPECT_EQ(ship.subject, "cmd.ship");
  EXPECT_FALSE(confirmed("o1"));
  EXPECT_TRUE(reply(ship, true).is_ack());
  const saga_instance s = load("o1");
  EXPECT_EQ(s.status, saga_status::completed);
  EXPECT_EQ(s.data["payment"], "paid-77") << "on_reply copied the reply into the saga's data";
  EXPECT_TRUE(confirmed("o1")) << "the local step ran in the saga's transaction";
  EXPECT_EQ(ended("o1"), "completed") << "on_end ran once the saga ended";
  EXPECT_EQ(orchestrator_->stats().completed, 1u);
  EXPECT_EQ(start("o1").code(), status_code::already_exists);
}

TEST_P(Saga, EachFailingStepCompensatesTheCompletedOnesInReverse) {
  const std::vector<std::vector<std::string>> expected = {
      {"cmd.reserve"},
      {"cmd.reserve", "cmd.charge", "cmd.release"},
      {"cmd.reserve", "cmd.charge", "cmd.ship", "cmd.refund", "cmd.release"},
  };
  for (std::size_t failing = 0; failing < 3; ++failing) {
    const std::string id = "f" + std::to_string(failing);
    const std::size_t first = commands_.all().size();
    seen_ = first;
    ASSERT_TRUE(start(id).is_ok());
    for (std::size_t step = 0; step <= failing; ++step) {
      EXPECT_TRUE(reply(next_command(), step != failing).is_ack());
    }
    // The compensations: each acknowledged in turn.
    for (std::size_t undo = 0; undo < failing; ++undo) {
      message c = next_command();
      EXPECT_EQ(c.headers.value_or(header::saga_step, "").substr(0, 5), "undo:");
      EXPECT_TRUE(reply(c, true).is_ack());
    }
    std::vector<std::string> got;
    for (const auto& s : subjects()) got.push_back(s);
    got.erase(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(first));
    EXPECT_EQ(got, expected[failing]) << "failing step " << failing;
    const saga_instance s = load(id);
    EXPECT_EQ(s.status, saga_status::compensated) << failing;
    EXPECT_EQ(ended(id), "compensated");
    EXPECT_NE(s.error.find("declined"), std::string::npos) << s.error;
    EXPECT_FALSE(confirmed(id));
  }
  EXPECT_EQ(orchestrator_->stats().compensated, 3u);
  EXPECT_EQ(orchestrator_->count_by_status().value(), (std::map<std::string, std::int64_t>{{"compensated", 3}}));
}

TEST_P(Saga, ATimeoutFiresOnceAfterARestartAndUndoesTheTimedOutStep) {
  orchestrator_ = make_orchestrator(db(), {}, 300ms);
  ASSERT_TRUE(start("t1").is_ok());
  EXPECT_TRUE(reply(next_command(), true).is_ack());  // reserve done
  message charge = next_command();                    // never answered
  EXPECT_EQ(charge.subject, "cmd.charge");
  orchestrator_.reset();  // the orchestrator's process stops before the deadline
  std::this_thread::sleep_for(400ms);
  auto restarted_db = open_again();
  orchestrator_ = make_orchestrator(*restarted_db, {}, 300ms);
  auto fired = orchestrator_->fire_due_timeouts();
  ASSERT_TRUE(fired.is_ok()) << fired.status().to_string();
  EXPECT_EQ(fired.value(), 1u);
  EXPECT_EQ(orchestrator_->fire_due_timeouts().value(), 0u) << "fires once";
  // The timed-out charge may have happened: it is refunded, then the reservation released.
  message refund = next_command();
  EXPECT_EQ(refund.subject, "cmd.refund");
  EXPECT_TRUE(reply(refund, true).is_ack());
  message release = next_command();
  EXPECT_EQ(release.subject, "cmd.release");
  // The late reply of the timed-out charge changes nothing.
  EXPECT_TRUE(reply(charge, true).is_ack());
  EXPECT_EQ(load("t1").status, saga_status::compensating);
  EXPECT_EQ(ended("t1"), "") << "on_end waits for the end";
  EXPECT_TRUE(reply(release, true).is_ack());
  EXPECT_EQ(load("t1").status, saga_status::compensated);
  EXPECT_NE(load("t1").error.find("timed out"), std::string::npos);
  EXPECT_EQ(orchestrator_->stats().ignored_replies, 1u);
  EXPECT_EQ(orchestrator_->stats().timeouts, 1u);
}

TEST_P(Saga, ConcurrentRepliesForOneInstanceAreSerialised) {
  ASSERT_TRUE(start("c1").is_ok());
  message reserve = next_command();
  std::vector<std::thread> threads;
  std::atomic<int> acks{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      for (int attempt = 0; attempt < 50; ++attempt) {
        outcome o = reply(reserve, true);
        if (o.is_ack()) {
          ++acks;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(acks, 6);
  const saga_instance s = load("c1");
  EXPECT_EQ(s.step, 1u) << "applied once";
  EXPECT_EQ(s.version, 2);
  EXPECT_EQ(orchestrator_->stats().ignored_replies, 5u);
  std::vector<std::string> subs = subjects();
  EXPECT_EQ(std::count(subs.begin(), subs.end(), "cmd.charge"), 1);
}

TEST_P(Saga, ALateReplyAfterTheEndIsIgnoredAndAFailingCompensationEndsStuck) {
  orchestrator_ = make_orchestrator(db(), {.max_compensation_attempts = 3, .compensation_backoff = 1ms});
  ASSERT_TRUE(start("s1").is_ok());
  message reserve = next_command();
  EXPECT_TRUE(reply(reserve, true).is_ack());
  EXPECT_TRUE(reply(next_command(), false).is_ack());  // charge declined
  for (int attempt = 1; attempt <= 3; ++attempt) {
    message release = next_command();
    EXPECT_EQ(release.subject, "cmd.release");
    EXPECT_TRUE(reply(release, false).is_ack());  // the release keeps failing
    if (attempt < 3) {
      std::this_thread::sleep_for(20ms);
      EXPECT_EQ(orchestrator_->fire_due_timeouts().value(), 1u);  // the back-off ends: try again
    }
  }
  const saga_instance s = load("s1");
  EXPECT_EQ(s.status, saga_status::stuck);
  EXPECT_EQ(ended("s1"), "stuck");
  EXPECT_NE(s.error.find("3 times"), std::string::npos) << s.error;
  EXPECT_EQ(orchestrator_->stats().stuck, 1u);
  EXPECT_NE(orchestrator_->prometheus_text().find("ferry_saga_stuck_total{table=\"ferry_saga\"} 1"), std::string::npos);
  EXPECT_TRUE(reply(reserve, true).is_ack());  // a late duplicate
  EXPECT_EQ(load("s1").version, s.version);
}

TEST_P(Saga, AReplyToAnEarlierTryOfACompensationIsIgnored) {
  orchestrator_ = make_orchestrator(db(), {.compensation_backoff = 1ms}, 200ms);
  ASSERT_TRUE(start("e1").is_ok());
  EXPECT_TRUE(reply(next_command(), true).is_ack());   // reserved
  EXPECT_TRUE(reply(next_command(), false).is_ack());  // charge declined: release the reservation
  message first_try = next_command();
  EXPECT_EQ(first_try.subject, "cmd.release");
  std::this_thread::sleep_for(300ms);  // no answer within its timeout: a second try goes out
  EXPECT_EQ(orchestrator_->fire_due_timeouts().value(), 1u);
  message second_try = next_command();
  EXPECT_EQ(second_try.subject, "cmd.release");
  EXPECT_NE(second_try.id, first_try.id);
  EXPECT_TRUE(reply(first_try, false).is_ack());  // the first try's late failure changes nothing
  EXPECT_EQ(load("e1").status, saga_status::compensating);
  EXPECT_EQ(load("e1").attempts, 1u);
  EXPECT_TRUE(reply(second_try, true).is_ack());
  EXPECT_EQ(load("e1").status, saga_status::compensated);
}

// A command that cannot be made (its builder throws, or its subject is not one to publish to) is a
// failure of its step, as a local step that throws: a forward step compensates what went before,
// and a compensation's counts as a failed try until the saga is stuck. Before, the transition was
// tried again for ever (the reply nacked, the timer due every pass) and the saga never moved.
TEST_P(Saga, ACommandThatCannotBeMadeFailsItsStep) {
  orchestrator_ = make_orchestrator(db(), {.max_compensation_attempts = 2, .compensation_backoff = 1ms});
  saga_definition d{.type = "broken", .reply_subject = "saga.order.reply"};
  d.steps.push_back({.name = "reserve",
                     .command = [](const saga_instance&) { return message("cmd.reserve", ""); },
                     .compensate_command = [](const saga_instance&) { return message("cmd.rel ease", ""); }});
  d.steps.push_back({.name = "charge", .command = [](const saga_instance& s) {
                       return message("cmd.charge", std::to_string(s.data.at("amount").get<int>()));  // throws
                     }});
  ASSERT_TRUE(orchestrator_->define(d).is_ok());
  ASSERT_TRUE(
      db().in_transaction([&](sql::transaction& tx) { return orchestrator_->start(tx, "broken", "b1", {}); }).is_ok());
  message reserve = next_command();
  EXPECT_EQ(reserve.subject, "cmd.reserve");
  EXPECT_TRUE(reply(reserve, true).is_ack()) << "the charge step's failure is the saga's to handle, not a retry";
  saga_instance s = load("b1");
  EXPECT_EQ(s.status, saga_status::compensating);
  EXPECT_NE(s.error.find("charge failed: its command could not be made"), std::string::npos) << s.error;
  EXPECT_EQ(s.attempts, 1u) << "the release's subject is refused: one failed try";
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(orchestrator_->fire_due_timeouts().value(), 1u);  // the back-off ends: the second try fails too
  s = load("b1");
  EXPECT_EQ(s.status, saga_status::stuck);
  EXPECT_NE(s.error.find("could not be made"), std::string::npos) << s.error;
  EXPECT_EQ(orchestrator_->stats().stuck, 1u);
}

// Deadlines of instances of a type this process does not define (a type retired in a rolling
// deploy, or another service's sagas in the same table) are not this process's to fire: they do
// not take the first places of every pass (100) from the deadlines behind them for ever.
TEST_P(Saga, DeadlinesThatKeepFailingDoNotHoldUpTheOthers) {
  orchestrator_ = make_orchestrator(db(), {}, 100ms);
  ASSERT_TRUE(start("t1").is_ok());  // its reserve step times out after 100 ms
  ASSERT_TRUE(db().in_transaction([](sql::transaction& tx) -> status {
                    for (int i = 0; i < 100; ++i) {
                      const std::string id = "other-" + std::to_string(i);
                      FERRY_RETURN_IF_ERROR(
                          tx.exec("INSERT INTO ferry_saga (id, type, status, step, awaiting, attempts, data, version,"
                                  " error, created_ms, updated_ms) VALUES ($1, 'retired', 'running', 0, 1, 0, '{}',"
                                  " 1, '', 0, 0)",
                                  {id})
                              .status());
                      FERRY_RETURN_IF_ERROR(
                          tx.exec("INSERT INTO ferry_saga_deadline (saga_id, version, due_ms) VALUES ($1, 1, $2)",
                                  {id, std::int64_t{i}})
                              .status());
                    }
                    return status::ok();
                  })
                  .is_ok());
  std::this_thread::sleep_for(150ms);
  std::size_t fired = 0;
  for (int pass = 0; pass < 3 && fired == 0; ++pass) fired += orchestrator_->fire_due_timeouts().value();
  EXPECT_EQ(fired, 1u) << "t1's timeout stayed behind 100 that fail";
  EXPECT_EQ(load("t1").status, saga_status::compensating);
}

TEST_P(Saga, AFailedLocalStepLeavesNoWritesAndTheSagaStillMovesOn) {
  saga_definition d{.type = "local"};
  d.steps.push_back({.name = "write-twice", .local = [](sql::transaction& tx, saga_instance& s) -> status {
                       FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO confirmed VALUES ($1)", {s.id}).status());
                       s.data["tried"] = true;
                       // A failing statement: on PostgreSQL it would abort the whole transaction.
                       return tx.exec("INSERT INTO confirmed VALUES ($1)", {s.id}).status();
                     }});
  d.on_end = [](sql::transaction& tx, saga_instance& s) {
    return tx.exec("INSERT INTO ended VALUES ($1, $2)", {s.id, to_string(s.status)}).status();
  };
  ASSERT_TRUE(orchestrator_->define(d).is_ok());
  EXPECT_EQ(orchestrator_->define(d).code(), status_code::already_exists) << "a type is defined once";
  ASSERT_TRUE(
      db().in_transaction([&](sql::transaction& tx) { return orchestrator_->start(tx, "local", "l1", {}); }).is_ok());
  EXPECT_FALSE(confirmed("l1")) << "the failed step's first write was rolled back with it";
  EXPECT_EQ(load("l1").status, saga_status::compensated);
  EXPECT_EQ(load("l1").data.value("tried", false), true) << "what the step put in the data stays";
  EXPECT_EQ(ended("l1"), "compensated");
}

TEST_P(Saga, RepliesForUnknownInstancesFollowThePolicy) {
  message fake("cmd.reserve", "");
  fake.headers.set(std::string(header::saga_id), "nobody");
  fake.headers.set(std::string(header::saga_step), "do:0");
  fake.headers.set(std::string(header::saga_reply_to), "saga.order.reply");
  EXPECT_TRUE(reply(fake, true).is_ack());
  orchestrator_ = make_orchestrator(db(), {.on_missing = missing_saga_policy::retry});
  EXPECT_TRUE(reply(fake, true).is_retry());
  orchestrator_ = make_orchestrator(db(), {.on_missing = missing_saga_policy::drop});
  EXPECT_TRUE(reply(fake, true).is_drop());
  message garbage("saga.order.reply", "");
  EXPECT_TRUE(orchestrator_->reply_handler()(garbage).is_drop());
  EXPECT_EQ(orchestrator_->define({.type = "bad", .steps = {{.name = "x"}}}).code(), status_code::invalid_argument);
}

FERRY_BOTH_DATABASES(Saga);

}  // namespace
}  // namespace ferry
