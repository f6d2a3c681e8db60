#include "ferry/router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "sdk/test_transport.h"
#include "sdk/test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::gate;
using testing::test_transport;

handler_options opts(std::string subject, std::size_t concurrency = 1, ordering order = ordering::none) {
  handler_options o;
  o.subject = std::move(subject);
  o.concurrency = concurrency;
  o.order = order;
  return o;
}

// A publisher that checks, at each publish, that the input was not settled yet.
class probe_publisher : public publisher {
 public:
  explicit probe_publisher(test_transport& in) : in_(in) {}
  status publish(message m) override {
    settled_before_publish_ += in_.settled().size();
    subjects_.push_back(m.subject);
    return status::ok();
  }
  using publisher::publish;
  status flush(std::chrono::milliseconds) override { return status::ok(); }
  std::size_t settled_before_publish_ = 0;
  std::vector<std::string> subjects_;

 private:
  test_transport& in_;
};

TEST(RouterTest, PublishesOutputsBeforeAcking) {
  test_transport t;
  probe_publisher out(t);
  router r(t, &out);
  ASSERT_TRUE(r.add_handler(opts("in"), [](message& m) -> outcome {
                 return std::vector{message("out.a", m.payload), message("out.b", m.payload)};
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("in", "x"));
  ASSERT_TRUE(t.wait_settled(1));
  EXPECT_EQ(t.settled()[0].state, settlement::acked);
  EXPECT_EQ(out.subjects_, (std::vector<std::string>{"out.a", "out.b"}));
  EXPECT_EQ(out.settled_before_publish_, 0u);
  EXPECT_EQ(r.stats("in").published, 2u);
  EXPECT_TRUE(eventually([&] { return r.stats("in").acked == 1u; }));  // counted just after settling
}

TEST(RouterTest, RetryNacksWithTheDelayAndDropTerminates) {
  test_transport t;
  router r(t);
  ASSERT_TRUE(r.add_handler(opts("retry"), [](message&) { return outcome::retry(unavailable("db"), 250ms); }).is_ok());
  ASSERT_TRUE(r.add_handler(opts("drop"), [](message&) { return outcome::drop(invalid_argument("bad")); }).is_ok());
  ASSERT_TRUE(r.add_handler(opts("status"), [](message&) -> outcome { return internal_error("x"); }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("retry", ""));
  ASSERT_TRUE(t.wait_settled(1));
  t.deliver(message("drop", ""));
  ASSERT_TRUE(t.wait_settled(2));
  t.deliver(message("status", ""));
  ASSERT_TRUE(t.wait_settled(3));
  auto s = t.settled();
  EXPECT_EQ(s[0].state, settlement::nacked);
  EXPECT_EQ(s[0].delay, 250ms);
  EXPECT_EQ(s[1].state, settlement::terminated);
  EXPECT_EQ(s[1].reason, "invalid_argument: bad");
  EXPECT_EQ(s[2].state, settlement::nacked);
  EXPECT_TRUE(eventually([&] { return r.stats("retry").retried == 1u; }));  // counted just after settling
  EXPECT_TRUE(eventually([&] { return r.stats("drop").dropped == 1u; }));   // counted just after settling
}

TEST(RouterTest, PublishFailureNacksTheInput) {
  test_transport t;
  router r(t);
  ASSERT_TRUE(r.add_handler(opts("in"), [](message&) -> outcome { return std::vector{message("out", "")}; }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.fail_publishes(1);
  t.deliver(message("in", ""));
  ASSERT_TRUE(t.wait_settled(1));
  EXPECT_EQ(t.settled()[0].state, settlement::nacked);
  EXPECT_EQ(r.stats("in").publish_failures, 1u);
  EXPECT_EQ(r.stats("in").published, 0u);
}

TEST(RouterTest, EmptyOutputSubjectGoesToPublishSubjectElseNacks) {
  test_transport t;
  router r(t);
  auto with = opts("with");
  with.publish_subject = "default.out";
  auto h = [](message&) -> outcome { return std::vector{message("", "p")}; };
  ASSERT_TRUE(r.add_handler(with, h).is_ok());
  ASSERT_TRUE(r.add_handler(opts("without"), h).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("with", ""));
  t.deliver(message("without", ""));
  ASSERT_TRUE(t.wait_settled(2));
  ASSERT_EQ(t.published().size(), 1u);
  EXPECT_EQ(t.published()[0].subject, "default.out");
  EXPECT_TRUE(eventually([&] { return r.stats("with").acked == 1u; }));       // counted just after settling
  EXPECT_TRUE(eventually([&] { return r.stats("without").retried == 1u; }));  // counted just after settling
  EXPECT_EQ(r.stats("without").publish_failures, 1u);
}

TEST(RouterTest, HandlerThatSettlesItselfIsNotSettledAgain) {
  test_transport t;
  router r(t);
  ASSERT_TRUE(r.add_handler(opts("in"), [](message& m) -> outcome {
                 m.term("mine");
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("in", ""));
  ASSERT_TRUE(t.wait_settled(1));
  r.stop(1s);
  ASSERT_EQ(t.settled().size(), 1u);
  EXPECT_EQ(t.settled()[0].state, settlement::terminated);
  EXPECT_EQ(t.settled()[0].reason, "mine");
  EXPECT_EQ(r.stats("in").dropped, 1u);
}

TEST(RouterTest, ExceptionIsLoggedAndNacked) {
  test_transport t;
  router r(t);
  ASSERT_TRUE(r.add_handler(opts("in"), [](message&) -> outcome { throw std::runtime_error("boom"); }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("in", ""));
  ASSERT_TRUE(t.wait_settled(1));
  EXPECT_EQ(t.settled()[0].state, settlement::nacked);
  EXPECT_EQ(r.stats("in").exceptions, 1u);
}

TEST(RouterTest, PerKeyKeepsOrderUnderConcurrency8) {
  test_transport t;
  router r(t);
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen;
  std::map<std::string, int> running;
  std::atomic<int> overlap{0}, now_running{0}, max_running{0};
  ASSERT_TRUE(r.add_handler(opts("in", 8, ordering::per_key), [&](message& m) -> outcome {
                 const std::string key = m.key.empty() ? m.headers.value_or(header::key, "") : m.key;
                 {
                   std::lock_guard lock(mu);
                   if (++running[key] > 1) ++overlap;
                   seen[key].push_back(std::stoi(m.payload));
                 }
                 int n = ++now_running;
                 for (int cur = max_running; n > cur && !max_running.compare_exchange_weak(cur, n);) {
                 }
                 std::this_thread::sleep_for(std::chrono::microseconds(200));
                 --now_running;
                 std::lock_guard lock(mu);
                 --running[key];
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  constexpr int keys = 8, per_key = 40;
  for (int i = 0; i < per_key; ++i) {
    for (int k = 0; k < keys; ++k) {
      message m("in", std::to_string(i));
      if (k % 2) {
        m.key = "k" + std::to_string(k);
      } else {
        m.headers.set(std::string(header::key), "k" + std::to_string(k));  // the header counts too
      }
      t.deliver(std::move(m));
    }
  }
  ASSERT_TRUE(t.wait_settled(keys * per_key, 20s));
  EXPECT_EQ(overlap.load(), 0);
  EXPECT_GT(max_running.load(), 1);  // different keys really ran at once
  for (int k = 0; k < keys; ++k) {
    auto& v = seen["k" + std::to_string(k)];
    ASSERT_EQ(v.size(), static_cast<std::size_t>(per_key));
    for (int i = 0; i < per_key; ++i) EXPECT_EQ(v[i], i);
  }
}

TEST(RouterTest, PerKeyHeaderKeyKeepsOrder) {
  test_transport t;
  router r(t);
  std::mutex mu;
  std::vector<int> seen;
  ASSERT_TRUE(r.add_handler(opts("in", 8, ordering::per_key), [&](message& m) -> outcome {
                 std::this_thread::sleep_for(std::chrono::microseconds(100));
                 std::lock_guard lock(mu);
                 seen.push_back(std::stoi(m.payload));
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  for (int i = 0; i < 50; ++i) {
    message m("in", std::to_string(i));
    m.headers.set(std::string(header::key), "only");
    t.deliver(std::move(m));
  }
  ASSERT_TRUE(t.wait_settled(50));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], i);
}

TEST(RouterTest, DifferentKeysRunInParallel) {
  test_transport t;
  router r(t);
  std::atomic<int> arrived{0};
  gate both;
  ASSERT_TRUE(r.add_handler(opts("in", 2, ordering::per_key), [&](message&) -> outcome {
                 if (++arrived == 2) both.open();
                 return both.wait(2s) ? outcome::ack() : outcome::retry(deadline_exceeded("alone"));
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  message a("in", ""), b("in", "");
  a.key = "a";
  b.key = "b";
  t.deliver(a);
  t.deliver(b);
  ASSERT_TRUE(t.wait_settled(2));
  for (auto& s : t.settled()) EXPECT_EQ(s.state, settlement::acked);
}

TEST(RouterTest, ConcurrencyLimitsRunningCalls) {
  test_transport t;
  router r(t);
  gate release;
  std::atomic<int> now{0}, peak{0};
  ASSERT_TRUE(r.add_handler(opts("in", 3), [&](message&) -> outcome {
                 int n = ++now;
                 for (int cur = peak; n > cur && !peak.compare_exchange_weak(cur, n);) {
                 }
                 release.wait();
                 --now;
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  for (int i = 0; i < 10; ++i) t.deliver(message("in", ""));
  ASSERT_TRUE(eventually([&] { return r.stats("in").in_flight == 3; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(peak.load(), 3);
  EXPECT_EQ(r.stats("in").queued, 7u);
  release.open();
  ASSERT_TRUE(t.wait_settled(10));
  EXPECT_EQ(peak.load(), 3);
}

TEST(RouterTest, FullQueueBlocksTheDeliveryCallback) {
  test_transport t;
  router r(t);
  gate release;
  auto o = opts("in");
  o.queue_size = 2;
  ASSERT_TRUE(r.add_handler(o, [&](message&) -> outcome {
                 release.wait();
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  std::atomic<int> delivered{0};
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) {
      t.deliver(message("in", ""));
      ++delivered;
    }
  });
  // One running, two queued: the fourth delivery waits for room.
  ASSERT_TRUE(eventually([&] { return delivered.load() == 3; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(delivered.load(), 3);
  release.open();
  producer.join();
  ASSERT_TRUE(t.wait_settled(5));
}

TEST(RouterTest, GracefulStopFinishesRunningAndNacksQueued) {
  test_transport t;
  router r(t);
  gate started;
  ASSERT_TRUE(r.add_handler(opts("in"), [&](message&) -> outcome {
                 started.open();
                 std::this_thread::sleep_for(30ms);
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  for (int i = 0; i < 4; ++i) t.deliver(message("in", std::to_string(i)));
  ASSERT_TRUE(started.wait());
  r.stop(2s);
  EXPECT_FALSE(r.running());
  auto s = t.settled();
  ASSERT_EQ(s.size(), 4u);
  int acked = 0, nacked = 0;
  for (auto& x : s) (x.state == settlement::acked ? acked : nacked)++;
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(nacked, 3);
  EXPECT_EQ(t.subscriptions(), 0u);
  EXPECT_EQ(t.deliver(message("in", "late")), 0u);  // unsubscribed
}

TEST(RouterTest, StopAfterGraceNacksStuckHandlerAndDiscardsItsOutputs) {
  test_transport t;
  router r(t);
  gate started, release;
  ASSERT_TRUE(r.add_handler(opts("in"), [&](message&) -> outcome {
                 started.open();
                 release.wait();
                 return std::vector{message("out", "")};
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("in", ""));
  ASSERT_TRUE(started.wait());
  const auto t0 = std::chrono::steady_clock::now();
  r.stop(20ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  ASSERT_EQ(t.settled().size(), 1u);
  EXPECT_EQ(t.settled()[0].state, settlement::nacked);
  release.open();
  ASSERT_TRUE(eventually([&] { return r.stats("in").in_flight == 0; }));
  EXPECT_TRUE(t.published().empty());
  EXPECT_EQ(t.settled().size(), 1u);
}

// A transport whose subscriptions' stop() waits (up to a limit) until every one of them is
// stopping: it returns at once only when they are stopped side by side.
class waits_for_all_stops : public test_transport {
 public:
  explicit waits_for_all_stops(int n) : n_(n) {}
  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options options,
                                                  delivery_callback callback) override {
    FERRY_ASSIGN_OR_RETURN(auto inner,
                           test_transport::subscribe(std::move(subject), std::move(options), std::move(callback)));
    return std::unique_ptr<subscription>(std::make_unique<sub>(*this, std::move(inner)));
  }
  // How many stop() calls found all n stopping within the limit.
  [[nodiscard]] int overlapped() const {
    std::lock_guard lock(mu_);
    return overlapped_;
  }

 private:
  class sub : public subscription {
   public:
    sub(waits_for_all_stops& t, std::unique_ptr<subscription> inner) : t_(t), inner_(std::move(inner)) {}
    void stop() override {
      if (!stopped_) {
        stopped_ = true;
        t_.arrive();
      }
      inner_->stop();
    }
    [[nodiscard]] const std::string& subject() const override { return inner_->subject(); }

   private:
    waits_for_all_stops& t_;
    std::unique_ptr<subscription> inner_;
    bool stopped_ = false;
  };

  void arrive() {
    std::unique_lock lock(mu_);
    ++arrived_;
    cv_.notify_all();
    if (cv_.wait_for(lock, 2s, [&] { return arrived_ >= n_; })) ++overlapped_;
  }

  const int n_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;     // guarded by mu_
  int overlapped_ = 0;  // guarded by mu_
};

// Four handlers' subscriptions stop side by side: each stop() sees the other three begun.
TEST(RouterTest, StopStopsTheSubscriptionsSideBySide) {
  waits_for_all_stops t(4);
  router r(t);
  for (const char* s : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(r.add_handler(opts(s), [](message&) { return outcome::ack(); }).is_ok());
  }
  ASSERT_TRUE(r.start().is_ok());
  ASSERT_EQ(t.subscriptions(), 4u);
  r.stop(1s);
  EXPECT_EQ(t.overlapped(), 4);
  EXPECT_EQ(t.subscriptions(), 0u);
  EXPECT_EQ(t.deliver(message("a", "late")), 0u);  // unsubscribed
}

TEST(RouterTest, HandlerMayPublishAndAddHandlers) {
  test_transport t;
  router r(t);
  std::atomic<bool> added{false};
  ASSERT_TRUE(r.add_handler(opts("first"), [&](message&) -> outcome {
                 EXPECT_TRUE(t.publish(message("direct", "")).is_ok());
                 status s = r.add_handler(opts("second"), [](message&) { return outcome::ack(); });
                 added = s.is_ok();
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("first", ""));
  ASSERT_TRUE(t.wait_settled(1));
  ASSERT_TRUE(added.load());
  EXPECT_EQ(t.deliver(message("second", "")), 1u);
  ASSERT_TRUE(t.wait_settled(2));
  EXPECT_TRUE(eventually([&] { return r.stats("second").acked == 1u; }));  // counted just after settling
}

TEST(RouterTest, DelayWithoutDelayedDeliveryIsWaitedOutBeforeTheNack) {
  capabilities caps;  // nothing, no delayed_delivery
  test_transport t(caps);
  router r(t);
  ASSERT_TRUE(r.add_handler(opts("in"), [](message&) { return outcome::retry(unavailable("x"), 30ms); }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  const auto t0 = std::chrono::steady_clock::now();
  t.deliver(message("in", ""));
  ASSERT_TRUE(t.wait_settled(1));
  auto s = t.settled()[0];
  EXPECT_EQ(s.state, settlement::nacked);
  EXPECT_EQ(s.delay, 0ms);
  EXPECT_GE(s.at - t0, 30ms);
}

TEST(RouterTest, StartFailsAndSubscribesNothingWhenOneSubscriptionFails) {
  capabilities caps;  // no consumer groups
  test_transport t(caps);
  router r(t);
  ASSERT_TRUE(r.add_handler(opts("a"), [](message&) { return outcome::ack(); }).is_ok());
  auto b = opts("b");
  b.group = "g";
  ASSERT_TRUE(r.add_handler(b, [](message&) { return outcome::ack(); }).is_ok());
  status s = r.start();
  EXPECT_EQ(s.code(), status_code::unimplemented);
  EXPECT_EQ(t.subscriptions(), 0u);
  EXPECT_FALSE(r.running());
}

TEST(RouterTest, AddHandlerValidates) {
  test_transport t;
  router r(t);
  auto ok = [](message&) { return outcome::ack(); };
  EXPECT_EQ(r.add_handler(opts(""), ok).code(), status_code::invalid_argument);
  EXPECT_EQ(r.add_handler(opts("a", 0), ok).code(), status_code::invalid_argument);
  EXPECT_TRUE(r.add_handler(opts("a"), ok).is_ok());
  EXPECT_EQ(r.add_handler(opts("a"), ok).code(), status_code::already_exists);
  r.stop();
  EXPECT_EQ(r.add_handler(opts("b"), ok).code(), status_code::failed_precondition);
}

TEST(RouterTest, RouterMiddlewareWrapsHandlerMiddlewareInOrder) {
  test_transport t;
  router r(t);
  std::vector<std::string> trace;
  auto tag = [&trace](std::string name) -> handler_middleware {
    return [&trace, name](handler next) -> handler {
      return [&trace, name, next](message& m) {
        trace.push_back(name);
        return next(m);
      };
    };
  };
  r.use(tag("router1")).use(tag("router2"));
  auto o = opts("in");
  o.middleware = {tag("handler1"), tag("handler2")};
  ASSERT_TRUE(r.add_handler(o, [&](message&) {
                 trace.push_back("handler");
                 return outcome::ack();
               }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  t.deliver(message("in", ""));
  ASSERT_TRUE(t.wait_settled(1));
  EXPECT_EQ(trace, (std::vector<std::string>{"router1", "router2", "handler1", "handler2", "handler"}));
}

TEST(RouterTest, MiddlewareSeesHandlerInfo) {
  capabilities caps = test_transport::default_caps();
  test_transport t(caps);
  router r(t);
  std::string name, subject;
  bool delayed = false;
  r.use([&](handler next, handler_info& info) -> handler {
    name = info.name;
    subject = info.subject;
    delayed = info.caps.delayed_delivery;
    return next;
  });
  auto o = opts("orders.*");
  o.name = "orders";
  ASSERT_TRUE(r.add_handler(o, [](message&) { return outcome::ack(); }).is_ok());
  ASSERT_TRUE(r.start().is_ok());
  EXPECT_EQ(name, "orders");
  EXPECT_EQ(subject, "orders.*");
  EXPECT_TRUE(delayed);
}

}  // namespace
}  // namespace ferry
