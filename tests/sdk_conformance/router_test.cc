// What Watermill's suite never tests, through the router and the middleware, on every transport:
// the dead-letter path and its reason, the delivery count a handler sees, dedup, per-key order
// under concurrency, trace propagation over the wire, back-pressure, publishing from a handler,
// and no loss across a service restart.
#include "ferry/router.h"

#include <future>
#include <random>

#include "ferry/dedup.h"
#include "ferry/middleware.h"
#include "ferry/tracing.h"
#include "suite.h"

namespace ferry::conformance {
namespace {

// A drop is dead-lettered with its reason, its origin and its attempt count; retries that run out
// end there too, exactly once.
TEST_P(Conformance, RouterDeadLetterWithReason) {
  collector dlq;
  auto dl_sub = other().subscribe(subject("dlq"), {}, dlq.acking());
  ASSERT_TRUE(dl_sub.is_ok());
  router r(t());
  r.use(middleware::dead_letter(t(), subject("dlq")));
  r.use(middleware::retry({.max_attempts = 3, .initial_interval = 5ms, .jitter = middleware::jitter::none}));
  std::atomic<int> calls{0};
  ASSERT_TRUE(r.add_handler({.name = "orders", .subject = subject("in")}, [&](message& m) -> outcome {
                 ++calls;
                 if (m.payload == "poison") return outcome::drop(invalid_argument("bad order"));
                 return unavailable("inventory down");  // a retry, every time
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  ASSERT_TRUE(other().publish(message(subject("in"), "poison")).is_ok());
  ASSERT_TRUE(other().publish(message(subject("in"), "flaky")).is_ok());
  ASSERT_TRUE(dlq.wait_total(2));
  EXPECT_FALSE(dlq.wait_total(3, 200ms));  // exactly one dead letter each
  std::map<std::string, message> by_payload;
  for (const auto& m : dlq.messages()) by_payload[m.payload] = m;
  const message& poison = by_payload["poison"];
  EXPECT_NE(poison.headers.value_or(header::dead_letter_reason, "").find("bad order"), std::string::npos);
  EXPECT_EQ(poison.headers.value_or(header::dead_letter_subject, ""), subject("in"));
  EXPECT_EQ(poison.headers.value_or(header::dead_letter_handler, ""), "orders");
  const message& flaky = by_payload["flaky"];
  EXPECT_NE(flaky.headers.value_or(header::dead_letter_reason, "").find("inventory down"), std::string::npos);
  EXPECT_EQ(flaky.headers.value_or(header::dead_letter_deliveries, ""), "3");
  r.stop(5s);
  EXPECT_EQ(calls.load(), 1 + 3);
}

// A handler sees the transport's delivery count grow with each redelivery.
TEST_P(Conformance, RouterHandlerSeesDeliveryCount) {
  FERRY_REQUIRE_CAP(redelivery);
  FERRY_REQUIRE_CAP(delivery_count);
  std::mutex mu;
  std::vector<std::uint64_t> counts;
  router r(t());
  ASSERT_TRUE(r.add_handler({.subject = subject("count")}, [&](message& m) -> outcome {
                 std::lock_guard lock(mu);
                 counts.push_back(m.delivery.delivery_count);
                 if (m.delivery.delivery_count < 3) return outcome::retry(unavailable("not yet"));
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  ASSERT_TRUE(other().publish(message(subject("count"), "x")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return counts.size() >= 3;
  }));
  r.stop(5s);
  std::lock_guard lock(mu);
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{1, 2, 3}));
}

// The same message published twice is handled once.
TEST_P(Conformance, RouterDedup) {
  memory_dedup_store store;
  std::mutex mu;
  std::vector<std::string> handled;
  router r(t());
  r.use(middleware::dedup(store));
  ASSERT_TRUE(r.add_handler({.subject = subject("dedup")}, [&](message& m) -> outcome {
                 std::lock_guard lock(mu);
                 handled.push_back(m.payload);
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  // One key for all three: a partitioned transport (Kafka) orders only within a partition, and
  // the sentinel must come after both copies to show that the second one was seen and dropped.
  message m(subject("dedup"), "once");
  m.id = new_id();
  m.key = "dedup";
  ASSERT_TRUE(other().publish(m).is_ok());
  ASSERT_TRUE(other().publish(m).is_ok());  // a retried publish: same id
  message sentinel(subject("dedup"), "sentinel");
  sentinel.key = m.key;
  ASSERT_TRUE(other().publish(sentinel).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return std::find(handled.begin(), handled.end(), "sentinel") != handled.end();
  }));
  r.stop(5s);
  std::lock_guard lock(mu);
  EXPECT_EQ(std::count(handled.begin(), handled.end(), "once"), 1);
}

// Concurrency 8 with per-key order: each key's messages are handled one at a time, in order.
TEST_P(Conformance, RouterPerKeyOrderUnderConcurrency) {
  constexpr int keys = 16, per_key = 20;
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen;
  std::map<std::string, int> running;
  std::atomic<bool> overlap{false};
  std::atomic<int> total{0};
  router r(t());
  ASSERT_TRUE(r.add_handler({.subject = subject("pk"), .concurrency = 8, .order = ordering::per_key},
                            [&](message& m) -> outcome {
                              {
                                std::lock_guard lock(mu);
                                if (running[m.key]++ > 0) overlap = true;
                              }
                              std::this_thread::sleep_for(std::chrono::microseconds(200 * (std::stoi(m.payload) % 3)));
                              {
                                std::lock_guard lock(mu);
                                --running[m.key];
                                seen[m.key].push_back(std::stoi(m.payload));
                              }
                              ++total;
                              return outcome::ack();
                            })
                  .is_ok());
  ASSERT_TRUE(r.start().is_ok());
  std::vector<message> batch;
  for (int i = 0; i < per_key; ++i) {
    for (int k = 0; k < keys; ++k) {
      message m(subject("pk"), std::to_string(i));
      m.key = "key" + std::to_string(k);
      batch.push_back(std::move(m));
    }
  }
  ASSERT_TRUE(other().publish(std::move(batch)).is_ok());
  ASSERT_TRUE(eventually([&] { return total.load() >= keys * per_key; })) << total.load();
  r.stop(5s);
  EXPECT_FALSE(overlap.load()) << "two messages of one key ran at once";
  std::vector<int> expected(per_key);
  for (int i = 0; i < per_key; ++i) expected[i] = i;
  for (const auto& [key, order] : seen) EXPECT_EQ(order, expected) << key;
}

// A publisher's span reaches the handler's span as its parent over the wire, and the handler's
// outputs carry the handler's span to the next hop.
TEST_P(Conformance, RouterTracePropagation) {
  auto spans = std::make_shared<memory_exporter>();
  tracer tr(spans);
  router r(t());
  r.use(middleware::tracing(tr));
  collector done;
  ASSERT_TRUE(r.add_handler({.name = "first", .subject = subject("trace.1")}, [&](message& m) -> outcome {
                 return std::vector<message>{message(subject("trace.2"), m.payload)};
               }).is_ok());
  ASSERT_TRUE(r.add_handler({.name = "second", .subject = subject("trace.2")}, [&](message& m) -> outcome {
                 done.add(m);
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  span publisher_span = tr.start("publish", nullptr);
  message m(subject("trace.1"), "x");
  m.headers.set(std::string(header::traceparent),
                format_traceparent({publisher_span.trace_id, publisher_span.span_id}));
  ASSERT_TRUE(other().publish(m).is_ok());
  ASSERT_TRUE(done.wait_total(1));
  ASSERT_TRUE(eventually([&] { return spans->spans().size() >= 2; }));
  r.stop(5s);
  std::map<std::string, span> by_handler;
  for (const auto& s : spans->spans()) by_handler[s.handler] = s;
  ASSERT_TRUE(by_handler.count("first") && by_handler.count("second"));
  EXPECT_EQ(by_handler["first"].trace_id, publisher_span.trace_id);
  EXPECT_EQ(by_handler["first"].parent_span_id, publisher_span.span_id);
  EXPECT_EQ(by_handler["second"].trace_id, publisher_span.trace_id);
  EXPECT_EQ(by_handler["second"].parent_span_id, by_handler["first"].span_id);
}

// A slow handler bounds what is in flight (max_in_flight), and nothing the publisher sent is lost.
TEST_P(Conformance, RouterBackPressure) {
  constexpr std::size_t max_in_flight = 4;
  constexpr int total = 40;
  std::atomic<int> handled{0};
  std::atomic<std::uint64_t> worst{0};
  router r(t());
  ASSERT_TRUE(r.add_handler({.name = "slow",
                             .subject = subject("bp"),
                             .concurrency = 2,
                             .subscription = {.max_in_flight = max_in_flight}},
                            [&](message&) -> outcome {
                              std::this_thread::sleep_for(5ms);
                              ++handled;
                              return outcome::ack();
                            })
                  .is_ok());
  ASSERT_TRUE(r.start().is_ok());
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      const handler_stats s = r.stats("slow");
      std::uint64_t held = s.in_flight + s.queued;
      std::uint64_t prev = worst.load();
      while (held > prev && !worst.compare_exchange_weak(prev, held)) {
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int i = 0; i < total; ++i) EXPECT_TRUE(other().publish(message(subject("bp"), std::to_string(i))).is_ok());
  EXPECT_TRUE(eventually([&] { return handled.load() >= total; })) << handled.load();
  sampling = false;
  sampler.join();
  r.stop(5s);
  // The router counts a handler as running until just after its ack returns, and the transport
  // may deliver the next message in between: one more than the bound can show for an instant.
  EXPECT_LE(worst.load(), max_in_flight + 1);
}

// A router's handler closes the transport while the main thread closes it too. The main close()
// waits for the transport's delivery thread, which waits for room in the handler's full queue,
// which only the worker running that handler makes: the handler's close() must return at once
// (the router marks its workers as the transport's callbacks). Both return.
TEST_P(Conformance, RouterHandlerClosingWhileAnotherThreadClosesDoesNotDeadlock) {
  auto made = connect(inst());  // a transport of its own (inproc: a new bus, which close() ends)
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  std::unique_ptr<transport> conn = std::move(*made);
  std::promise<void> entered;
  std::atomic<bool> once{false}, handler_closed{false};
  auto r = std::make_unique<router>(*conn);
  ASSERT_TRUE(r->add_handler({.name = "closer",
                              .subject = subject("router.close"),
                              .concurrency = 1,
                              .queue_size = 1,
                              .subscription = {.max_in_flight = 8}},
                             [&](message&) -> outcome {
                               if (!once.exchange(true)) {
                                 entered.set_value();
                                 std::this_thread::sleep_for(300ms);  // the main thread closes meanwhile
                                 conn->close();
                                 handler_closed.store(true);
                               }
                               return outcome::ack();
                             })
                  .is_ok());
  ASSERT_TRUE(r->start().is_ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(conn->publish(message(subject("router.close"), std::to_string(i))).is_ok());
  ASSERT_EQ(entered.get_future().wait_for(10s), std::future_status::ready);
  std::atomic<bool> main_closed{false};
  std::thread closer([&] {
    conn->close();
    main_closed.store(true);
  });
  if (!eventually([&] { return main_closed.load() && handler_closed.load(); }, 10s)) {
    closer.detach();  // hung: leave them rather than hang the suite
    (void)r.release();
    (void)conn.release();
    FAIL() << "close() from a router's handler while another thread closed hung";
  }
  closer.join();
  r->stop(1s);
  r.reset();
  conn.reset();
}

// A handler that publishes (itself, and through its outputs) does not deadlock, even into its own
// subscription with a small in-flight bound.
TEST_P(Conformance, RouterPublishFromHandler) {
  constexpr int total = 60;
  std::atomic<int> side{0}, ends{0};
  router r(t());
  ASSERT_TRUE(
      r.add_handler(
           {.name = "hop", .subject = subject("ph.hop"), .concurrency = 2, .subscription = {.max_in_flight = 2}},
           [&](message& m) -> outcome {
             const int n = std::stoi(m.payload);
             status s = t().publish(message(subject("ph.side"), m.payload));  // directly
             if (!s.is_ok()) return s;
             if (n % 2 == 0) return std::vector<message>{message(subject("ph.hop"), std::to_string(n + 1))};
             return std::vector<message>{message(subject("ph.end"), m.payload)};
           })
          .is_ok());
  ASSERT_TRUE(r.add_handler({.name = "side", .subject = subject("ph.side")}, [&](message&) -> outcome {
                 ++side;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.add_handler({.name = "end", .subject = subject("ph.end")}, [&](message&) -> outcome {
                 ++ends;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  for (int i = 0; i < total; ++i)
    ASSERT_TRUE(other().publish(message(subject("ph.hop"), std::to_string(2 * i))).is_ok());
  EXPECT_TRUE(eventually([&] { return ends.load() >= total && side.load() >= 2 * total; }))
      << ends.load() << " ends, " << side.load() << " side";
  r.stop(5s);
}

// The service stops mid-stream with unacknowledged work; a new instance of it gets everything
// (at least once).
TEST_P(Conformance, RouterNoLossAcrossServiceRestart) {
  FERRY_REQUIRE_CAP(persistent);
  FERRY_REQUIRE_CAP(consumer_groups);
  constexpr int total = 100;
  collector done;
  std::atomic<int> calls{0};
  auto handler = [&](message& m) -> outcome {
    ++calls;
    std::this_thread::sleep_for(2ms);
    done.add(m);
    return outcome::ack();
  };
  const handler_options opts{.name = "svc",
                             .subject = subject("svc"),
                             .group = group("svc"),
                             .concurrency = 2,
                             .subscription = {.max_in_flight = 8, .ack_wait = 2s}};
  declare_group(subject("svc"), group("svc"));
  for (int i = 0; i < total; ++i) ASSERT_TRUE(other().publish(message(subject("svc"), std::to_string(i))).is_ok());
  {
    auto conn = fresh();
    router first(*conn);
    ASSERT_TRUE(first.add_handler(opts, handler).is_ok());
    ASSERT_TRUE(first.start().is_ok());
    ASSERT_TRUE(eventually([&] { return calls.load() >= 30; }));
    first.stop(0ms);  // mid-stream: what was received and not handled is nacked
    conn->close();
  }
  EXPECT_LT(done.unique(), static_cast<std::size_t>(total));
  auto conn = fresh();
  router second(*conn);
  ASSERT_TRUE(second.add_handler(opts, handler).is_ok());
  ASSERT_TRUE(second.start().is_ok());
  EXPECT_TRUE(done.wait_unique(total)) << done.unique();
  second.stop(5s);
}

}  // namespace
}  // namespace ferry::conformance
