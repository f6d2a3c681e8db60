// Unit tests of the in-process transport: what is particular to it (queues, workers, overflow,
// callbacks that re-enter the transport, close). The behaviours every transport shares are in
// tests/sdk_conformance, which runs this transport too.
#include "ferry/inproc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::inproc {
namespace {

using namespace std::chrono_literals;

// Waits up to `timeout` for `pred`; true if it held.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

// Collects deliveries from any thread.
struct inbox {
  std::mutex mu;
  std::vector<message> got;
  delivery_callback acking() {
    return [this](message m) {
      m.ack();
      std::lock_guard lock(mu);
      got.push_back(std::move(m));
    };
  }
  delivery_callback keeping() {
    return [this](message m) {
      std::lock_guard lock(mu);
      got.push_back(std::move(m));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return got.size();
  }
  std::vector<std::string> payloads() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& m : got) out.push_back(m.payload);
    return out;
  }
};

TEST(Inproc, RoundTripKeepsEverything) {
  auto t = make_transport({.workers = 2});
  inbox in;
  auto sub = t->subscribe("orders.created", {}, in.acking());
  ASSERT_TRUE(sub.is_ok());
  message m("orders.created", std::string("\0binary\xff", 8));
  m.key = "customer-7";
  m.headers.add("A", "1").add("A", "2").set("Bin", std::string("\x01\x02\r\n\x00", 5));
  ASSERT_TRUE(t->publish(m).is_ok());
  ASSERT_TRUE(eventually([&] { return in.size() == 1; }));
  const message& got = in.got[0];
  EXPECT_EQ(got.payload, m.payload);
  EXPECT_EQ(got.key, "customer-7");
  EXPECT_EQ(got.headers, m.headers);
  EXPECT_EQ(got.id.size(), 22u);
  EXPECT_EQ(got.delivery.delivery_count, 1u);
  EXPECT_FALSE(got.delivery.redelivered);
  EXPECT_EQ(got.delivery.transport, "inproc");
  EXPECT_EQ(got.state(), settlement::acked);
}

TEST(Inproc, WildcardsAndIsolation) {
  auto t = make_transport();
  inbox star, tail, exact;
  auto a = t->subscribe("a.*", {}, star.acking());
  auto b = t->subscribe("a.>", {}, tail.acking());
  auto c = t->subscribe("a.b", {}, exact.acking());
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  for (const char* s : {"a.b", "a.c", "a.b.c", "b.a"}) ASSERT_TRUE(t->publish(message(s, s)).is_ok());
  ASSERT_TRUE(t->flush(5s).is_ok());
  ASSERT_TRUE(eventually([&] { return star.size() == 2 && tail.size() == 3 && exact.size() == 1; }));
  EXPECT_EQ(exact.payloads(), std::vector<std::string>{"a.b"});
}

TEST(Inproc, InvalidInputIsRefused) {
  auto t = make_transport();
  EXPECT_EQ(t->publish(message("a.*", "")).code(), status_code::invalid_argument);
  EXPECT_EQ(t->publish(message("a..b", "")).code(), status_code::invalid_argument);
  EXPECT_EQ(t->publish(message("", "")).code(), status_code::invalid_argument);
  EXPECT_EQ(t->subscribe("a.>.b", {}, [](message) {}).status().code(), status_code::invalid_argument);
  EXPECT_EQ(t->subscribe("a", {.max_in_flight = 0}, [](message) {}).status().code(), status_code::invalid_argument);
}

TEST(Inproc, GroupsShareAndKeysStick) {
  auto t = make_transport({.workers = 2});
  inbox g1a, g1b, g2;
  auto s1 = t->subscribe("jobs", {.group = "g1"}, g1a.acking());
  auto s2 = t->subscribe("jobs", {.group = "g1"}, g1b.acking());
  auto s3 = t->subscribe("jobs", {.group = "g2"}, g2.acking());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(t->publish(message("jobs", std::to_string(i))).is_ok());
  ASSERT_TRUE(eventually([&] { return g1a.size() + g1b.size() == 100 && g2.size() == 100; }));
  EXPECT_GT(g1a.size(), 0u);
  EXPECT_GT(g1b.size(), 0u);
  // One key, one member, in order.
  const std::size_t a0 = g1a.size(), b0 = g1b.size();
  for (int i = 0; i < 50; ++i) {
    message m("jobs", std::to_string(i));
    m.key = "k";
    ASSERT_TRUE(t->publish(std::move(m)).is_ok());
  }
  ASSERT_TRUE(eventually([&] { return g1a.size() + g1b.size() == 150; }));
  EXPECT_TRUE(g1a.size() == a0 + 50 || g1b.size() == b0 + 50);
}

TEST(Inproc, MaxInFlightHoldsBackUntilSettled) {
  auto t = make_transport();
  inbox in;
  auto sub = t->subscribe("x", {.max_in_flight = 2}, in.keeping());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t->publish(message("x", std::to_string(i))).is_ok());
  ASSERT_TRUE(eventually([&] { return in.size() == 2; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(in.size(), 2u);
  {
    std::lock_guard lock(in.mu);
    EXPECT_TRUE(in.got[0].ack());
  }
  ASSERT_TRUE(eventually([&] { return in.size() == 3; }));
  {
    std::lock_guard lock(in.mu);
    for (auto& m : in.got) m.ack();
  }
  ASSERT_TRUE(eventually([&] { return in.size() == 5; }));
  EXPECT_EQ(in.payloads(), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST(Inproc, NackRedeliversWithCountAndDelay) {
  auto t = make_transport();
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> seen;
  auto sub = t->subscribe("r", {}, [&](message m) {
    {
      std::lock_guard lock(mu);
      seen.emplace_back(m.delivery.delivery_count, std::chrono::steady_clock::now());
    }
    if (m.delivery.delivery_count < 3) {
      EXPECT_TRUE(m.nack(m.delivery.delivery_count == 1 ? 0ms : 100ms));
      EXPECT_FALSE(m.ack());  // first decision wins
    } else {
      EXPECT_TRUE(m.delivery.redelivered);
      m.ack();
    }
  });
  ASSERT_TRUE(t->publish(message("r", "p")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() == 3;
  }));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen[2].first, 3u);
  EXPECT_GE(seen[2].second - seen[1].second, 100ms);
}

TEST(Inproc, RequestReply) {
  auto t = make_transport();
  EXPECT_EQ(t->request(message("svc.echo", "x"), 1s).status().code(), status_code::unavailable);
  auto sub = t->subscribe("svc.echo", {}, [&](message m) {
    ASSERT_FALSE(m.reply.empty());
    m.ack();
    ASSERT_TRUE(t->publish(reply_to(m, "re:" + m.payload)).is_ok());
  });
  auto r = t->request(message("svc.echo", "x"), 5s);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->payload, "re:x");
  auto silent = t->subscribe("svc.silent", {}, [](message m) { m.ack(); });
  EXPECT_EQ(t->request(message("svc.silent", "x"), 50ms).status().code(), status_code::deadline_exceeded);
}

TEST(Inproc, CallbacksMayPublishSubscribeSettleAndStop) {
  auto t = make_transport({.workers = 1, .queue_capacity = 1});
  std::atomic<int> hops{0};
  std::unique_ptr<subscription> late;
  std::atomic<bool> subscribed{false};
  std::unique_ptr<subscription> self;
  inbox late_in;
  // A chain on one worker through a queue of one: each hop publishes the next from the callback.
  auto chain = t->subscribe("hop.*", {.max_in_flight = 1}, [&](message m) {
    const int n = ++hops;
    m.ack();
    if (n == 1) {
      auto s = t->subscribe("late", {}, late_in.acking());
      ASSERT_TRUE(s.is_ok());
      late = std::move(*s);
      subscribed = true;
    }
    if (n < 50) {
      ASSERT_TRUE(t->publish(message("hop." + std::to_string(n), "")).is_ok());
      ASSERT_TRUE(t->publish(message("hop.extra", "")).is_ok());  // over the bound of one, never blocks
    }
  });
  ASSERT_TRUE(chain.is_ok());
  std::atomic<int> stops{0};
  auto stopper = t->subscribe("stop.me", {}, [&](message m) {
    m.ack();
    ++stops;
    self->stop();  // stops itself from inside: must not wait for itself
  });
  ASSERT_TRUE(stopper.is_ok());
  self = std::move(*stopper);
  ASSERT_TRUE(t->publish(message("hop.0", "")).is_ok());
  ASSERT_TRUE(eventually([&] { return hops.load() >= 50 && subscribed.load(); }));
  ASSERT_TRUE(t->publish(message("late", "")).is_ok());
  ASSERT_TRUE(eventually([&] { return late_in.size() == 1; }));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t->publish(message("stop.me", "")).is_ok());
  ASSERT_TRUE(eventually([&] { return stops.load() >= 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(stops.load(), 1);
  t->close();
}

TEST(Inproc, SlowSubscriberBlocksOnlyItsPublisherAndOnlyPastItsBound) {
  auto t = make_transport({.workers = 2, .queue_capacity = 8});
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  std::atomic<int> slow_got{0};
  inbox fast;
  auto slow = t->subscribe("bp", {.max_in_flight = 1}, [&](message m) {
    std::unique_lock lock(gate_mu);
    gate_cv.wait(lock, [&] { return open; });
    ++slow_got;
    m.ack();
  });
  auto quick = t->subscribe("bp", {}, fast.acking());
  std::atomic<int> published{0};
  std::thread pub([&] {
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(t->publish(message("bp", std::to_string(i))).is_ok());
      ++published;
      // Keep the fast one's queue from filling too (then the publisher would wait on it as well).
      ASSERT_TRUE(eventually([&] { return fast.size() >= static_cast<std::size_t>(i + 1); }));
    }
  });
  // The slow one holds 1 in flight and 8 queued; the publisher then waits on the 10th.
  ASSERT_TRUE(eventually([&] { return published.load() == 9; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(published.load(), 9);
  EXPECT_TRUE(eventually([&] { return fast.size() == 10; }));  // it has the 10th already
  {
    std::lock_guard lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  pub.join();
  ASSERT_TRUE(eventually([&] { return slow_got.load() == 40 && fast.size() == 40; }));
}

TEST(Inproc, FailModeAndBlockTimeout) {
  for (const bool fail : {true, false}) {
    auto t = make_transport({.workers = 1,
                             .queue_capacity = 2,
                             .when_full = fail ? overflow::fail : overflow::block,
                             .block_timeout = 30ms});
    inbox held, other;
    auto s = t->subscribe("f", {.max_in_flight = 1}, held.keeping());
    auto o = t->subscribe("f", {}, other.acking());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(t->publish(message("f", std::to_string(i))).is_ok());
      ASSERT_TRUE(eventually([&] { return other.size() == static_cast<std::size_t>(i + 1); }));
    }
    EXPECT_EQ(held.size(), 1u);  // and two queued: full
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(t->publish(message("f", "3")).code(), status_code::resource_exhausted);
    if (!fail) {
      EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
    }
    EXPECT_TRUE(eventually([&] { return other.size() == 4; }));  // the others still got it
  }
}

TEST(Inproc, CloseFlushesQueuedMessages) {
  auto t = make_transport({.workers = 1});
  std::atomic<int> got{0};
  auto sub = t->subscribe("c", {}, [&](message m) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ++got;
    m.ack();
  });
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(t->publish(message("c", "")).is_ok());
  t->close();
  EXPECT_EQ(got.load(), 500);
  EXPECT_EQ(t->publish(message("c", "")).code(), status_code::failed_precondition);
  EXPECT_EQ(t->subscribe("c", {}, [](message) {}).status().code(), status_code::failed_precondition);
}

// flush() and close() from a callback: the messages queued behind that callback cannot be handed
// over while they wait, so neither waits for them (close_timeout is 10 s here).
TEST(Inproc, FlushAndCloseFromACallbackDoNotWaitForThatCallback) {
  auto t = make_transport({.workers = 1, .close_timeout = 10s});
  std::promise<std::pair<status, std::chrono::steady_clock::duration>> flushed;
  std::promise<std::chrono::steady_clock::duration> closed;
  std::atomic<int> calls{0};
  std::atomic<bool> second_queued{false};
  auto sub = t->subscribe("fc", {}, [&](message m) {
    m.ack();
    const int n = ++calls;
    if (n == 1) eventually([&] { return second_queued.load(); });
    const auto start = std::chrono::steady_clock::now();
    if (n == 1) {
      const status s = t->flush(5s);
      flushed.set_value({s, std::chrono::steady_clock::now() - start});
    } else if (n == 2) {
      t->close();
      closed.set_value(std::chrono::steady_clock::now() - start);
    }
  });
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(t->publish(message("fc", "1")).is_ok());
  ASSERT_TRUE(t->publish(message("fc", "2")).is_ok());  // queued behind the first callback
  second_queued = true;
  auto f = flushed.get_future();
  ASSERT_EQ(f.wait_for(8s), std::future_status::ready);
  const auto [s, flush_took] = f.get();
  // Message 2 still queued behind the caller: reported, not waited for.
  EXPECT_EQ(s.code(), status_code::deadline_exceeded) << s.to_string();
  EXPECT_LT(flush_took, 1s);
  auto c = closed.get_future();
  ASSERT_EQ(c.wait_for(8s), std::future_status::ready) << "close() from the callback waited for itself";
  EXPECT_LT(c.get(), 2s);
  EXPECT_EQ(t->publish(message("fc", "")).code(), status_code::failed_precondition);
}

// close() from one subscription's callback still gives every other subscription its close_timeout
// to drain (another worker hands their messages over meanwhile), whatever order they were made in.
TEST(Inproc, CloseFromACallbackStillFlushesTheOtherSubscriptions) {
  auto t = make_transport({.workers = 2});
  std::atomic<int> b_got{0};
  std::atomic<bool> all_queued{false};
  std::promise<void> closed;
  auto a = t->subscribe("a", {}, [&](message m) {
    m.ack();
    if (m.payload == "1") {
      eventually([&] { return all_queued.load(); });
      t->close();  // "a 2" waits behind this callback: a's own queue cannot drain
      closed.set_value();
    }
  });
  ASSERT_TRUE(a.is_ok());
  auto b = t->subscribe("b", {}, [&](message m) {
    std::this_thread::sleep_for(2ms);
    ++b_got;
    m.ack();
  });
  ASSERT_TRUE(b.is_ok());
  ASSERT_TRUE(t->publish(message("a", "1")).is_ok());
  ASSERT_TRUE(t->publish(message("a", "2")).is_ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(t->publish(message("b", "")).is_ok());
  all_queued = true;
  ASSERT_EQ(closed.get_future().wait_for(8s), std::future_status::ready);
  EXPECT_EQ(b_got.load(), 50);  // flushed, not dropped
}

TEST(Inproc, SettlingAfterCloseAndStopIsHarmless) {
  inbox in;
  std::unique_ptr<subscription> kept;
  {
    auto t = make_transport();
    auto sub = t->subscribe("s", {}, in.keeping());
    ASSERT_TRUE(t->publish(message("s", "1")).is_ok());
    ASSERT_TRUE(t->publish(message("s", "2")).is_ok());
    ASSERT_TRUE(eventually([&] { return in.size() == 2; }));
    kept = std::move(*sub);
  }  // transport destroyed first
  kept->stop();
  std::lock_guard lock(in.mu);
  EXPECT_TRUE(in.got[0].nack(10ms));
  EXPECT_TRUE(in.got[1].ack());
}

TEST(Inproc, StopWaitsForTheRunningCallback) {
  auto t = make_transport();
  std::atomic<bool> inside{false}, done{false};
  auto sub = t->subscribe("w", {}, [&](message m) {
    inside = true;
    std::this_thread::sleep_for(100ms);
    done = true;
    m.ack();
  });
  ASSERT_TRUE(t->publish(message("w", "")).is_ok());
  ASSERT_TRUE(eventually([&] { return inside.load(); }));
  (*sub)->stop();
  EXPECT_TRUE(done.load());
}

TEST(Inproc, OrderPerSubscriptionUnderLoad) {
  auto t = make_transport({.workers = 4, .queue_capacity = 64});
  std::vector<int> seen;
  std::atomic<int> count{0};
  auto sub = t->subscribe("o", {.max_in_flight = 16}, [&](message m) {
    seen.push_back(std::stoi(m.payload));  // one callback at a time per subscription
    m.ack();
    ++count;
  });
  std::vector<message> batch;
  for (int i = 0; i < 10000; ++i) batch.emplace_back("o", std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());
  ASSERT_TRUE(eventually([&] { return count.load() == 10000; }));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(seen[i], i);
}

// A busy subscription keeps its worker's turn while messages keep coming (it lingers), but never
// while another subscription waits for that worker: with one worker, a flooded subscription must
// not starve a quiet one.
TEST(Inproc, BusySubscriptionDoesNotStarveAnotherOnOneWorker) {
  auto t = make_transport({.workers = 1, .queue_capacity = 1024});
  std::atomic<bool> flooding{true};
  std::atomic<int> busy{0}, quiet{0};
  auto a = t->subscribe("busy", {}, [&](message m) {
    // Slower than the publisher, so the busy queue never runs dry.
    const auto until = std::chrono::steady_clock::now() + 2us;
    while (std::chrono::steady_clock::now() < until) {
    }
    m.ack();
    ++busy;
  });
  auto b = t->subscribe("quiet", {}, [&](message m) {
    m.ack();
    ++quiet;
  });
  std::thread flood([&] {
    while (flooding.load()) {
      std::vector<message> batch;
      for (int i = 0; i < 256; ++i) batch.emplace_back("busy", "x");
      ASSERT_TRUE(t->publish(std::move(batch)).is_ok());
    }
  });
  ASSERT_TRUE(eventually([&] { return busy.load() > 2000; }));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(t->publish(message("quiet", std::to_string(i))).is_ok());
    const int want = i + 1;
    EXPECT_TRUE(eventually([&] { return quiet.load() == want; }, 2s)) << "quiet message " << i << " starved";
  }
  flooding.store(false);
  flood.join();
}

TEST(Inproc, ManyPublishersManySubscribersNoLoss) {
  auto t = make_transport({.workers = 3, .queue_capacity = 32});
  constexpr int publishers = 4, per = 2000;
  std::atomic<int> plain{0}, grouped{0};
  auto a = t->subscribe("m.>", {.max_in_flight = 8}, [&](message m) { ++plain, m.ack(); });
  auto b = t->subscribe("m.*", {.group = "g"}, [&](message m) { ++grouped, m.ack(); });
  auto c = t->subscribe("m.*", {.group = "g"}, [&](message m) {
    if (m.delivery.delivery_count == 1) {
      m.nack();  // comes back to this member
    } else {
      ++grouped;
      m.ack();
    }
  });
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per; ++i) ASSERT_TRUE(t->publish(message("m." + std::to_string(p), "")).is_ok());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(eventually([&] { return plain.load() == publishers * per && grouped.load() == publishers * per; }));
  t->close();
}

}  // namespace
}  // namespace ferry::inproc
