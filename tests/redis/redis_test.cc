// What the SDK conformance suite cannot show on Redis Streams: a member killed with SIGKILL whose
// pending entries another member takes over, a graceful stop that leaves nothing unacknowledged
// behind, nack delays in a group, redis-server killed under load, and interop both ways with
// redis-cli. Against Debian's redis-server, started here on a free port in a temporary directory.
#include "ferry/redis.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "process.h"
#include "redis_server.h"
#include "transport_testing.h"

namespace ferry::redis {
namespace {

using namespace std::chrono_literals;

test::redis_server* server() {
  static std::unique_ptr<test::redis_server> s = [] {
    auto r = std::make_unique<test::redis_server>();
    if (!r->start(test::make_temp_dir("ferry-redis-test-"))) r.reset();
    return r;
  }();
  return s.get();
}

std::unique_ptr<transport> connect_or_die(std::string consumer, std::chrono::milliseconds block = 100ms) {
  auto t = connect(server()->address(), {.consumer = std::move(consumer), .block = block});
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? std::move(*t) : nullptr;
}

std::string new_stream(const std::string& name) {
  static std::atomic<int> n{0};
  return "rt." + name + "." + std::to_string(++n) + "." + new_id().substr(0, 6);
}

// redis-cli against the test's server; its output.
std::string cli(const std::string& args) {
  std::string out;
  FILE* f = popen(("redis-cli -p " + std::to_string(server()->port()) + " " + args + " 2>&1").c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  pclose(f);
  return out;
}

using test::eventually;
using test::lines;
using test::read_file;
using test::recorder;

class Redis : public testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::err);
    if (!test::have_program("redis-server")) GTEST_SKIP() << "redis-server is not installed (make deps installs it)";
    ASSERT_NE(server(), nullptr) << "redis-server is installed but did not start";
  }
};

TEST_F(Redis, AMemberKilledWithSigkillHasItsPendingEntriesTakenOver) {
  const std::string stream = new_stream("sigkill"), group = "g";
  auto t = connect_or_die("survivor");
  constexpr int total = 60;
  std::vector<message> batch;
  for (int i = 0; i < total; ++i) batch.emplace_back(stream, std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());

  const std::string dir = test::make_temp_dir("ferry-redis-member-"), out = dir + "/member.out";
  test::child_process member;
  ASSERT_TRUE(member.start(
      {test::program_path("redis_member", "FERRY_REDIS_MEMBER"), server()->address(), stream, group, "doomed", "20"},
      out));
  auto output = [&] {
    std::ifstream in(out);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(eventually([&] { return output().find("holding") != std::string::npos; })) << output();
  const auto holding_at = std::chrono::steady_clock::now();  // the held entries were delivered before
  std::this_thread::sleep_for(300ms);                        // its acks go out with its next read
  member.kill();
  std::set<std::string> acked_by_killed;
  for (const std::string& l : lines(output())) {
    if (l.rfind("acked ", 0) == 0) acked_by_killed.insert(l.substr(6));
  }
  ASSERT_EQ(acked_by_killed.size(), 20u);

  recorder got;
  std::atomic<std::int64_t> first_ns{0};
  auto sub = t->subscribe(stream, {.group = group, .ack_wait = 1s}, [&](message m) {
    std::int64_t none = 0;
    first_ns.compare_exchange_strong(none, std::chrono::steady_clock::now().time_since_epoch().count());
    m.ack();
    got.add(m);
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  EXPECT_TRUE(eventually([&] {
    std::set<std::string> all = acked_by_killed;
    auto p = got.payloads();
    all.insert(p.begin(), p.end());
    return all.size() == static_cast<std::size_t>(total);
  })) << got.payloads().size();
  for (const message& m : got.all()) {
    EXPECT_FALSE(acked_by_killed.contains(m.payload)) << m.payload << " was acknowledged, yet delivered again";
    EXPECT_EQ(m.delivery.delivery_count, 2u) << m.payload << ": taken over from the killed member";
    EXPECT_TRUE(m.delivery.redelivered);
  }
  const auto first = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(first_ns.load()));
  EXPECT_GE(first - holding_at, 900ms) << "taken over before they were idle for ack_wait";
  EXPECT_TRUE(eventually([&] { return lines(cli("XPENDING " + stream + " " + group))[0] == "0"; }))
      << cli("XPENDING " + stream + " " + group);
}

TEST_F(Redis, AGracefulStopAcknowledgesWhatWasHandledAndLeavesTheRestToOthers) {
  const std::string stream = new_stream("graceful"), group = "g";
  auto t = connect_or_die("first");
  std::vector<message> batch;
  for (int i = 0; i < 10; ++i) batch.emplace_back(stream, std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());
  std::mutex mu;
  std::vector<message> held;
  auto sub = t->subscribe(stream, {.group = group, .ack_wait = 1s}, [&](message m) {
    std::lock_guard lock(mu);
    if (std::stoi(m.payload) < 6) {
      m.ack();
    } else {
      held.push_back(std::move(m));  // never settled before the stop
    }
  });
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return held.size() == 4;
  }));
  (*sub)->stop();  // right after the acks: they must still reach Redis
  const auto pending = lines(cli("XPENDING " + stream + " " + group));
  EXPECT_EQ(pending[0], "4") << "the 6 acknowledged entries are not pending, the 4 held ones are";
  EXPECT_NE(cli("XINFO CONSUMERS " + stream + " " + group).find("first"), std::string::npos)
      << "a consumer that holds pending entries is kept";

  recorder got;
  auto next = connect_or_die("second");
  auto sub2 = next->subscribe(stream, {.group = group, .ack_wait = 1s}, got.acking());
  ASSERT_TRUE(sub2.is_ok());
  EXPECT_TRUE(eventually([&] {
    return got.payloads() == std::set<std::string>{"6", "7", "8", "9"};
  })) << got.payloads().size();
  (*sub2)->stop();
  EXPECT_EQ(cli("XINFO CONSUMERS " + stream + " " + group).find("second"), std::string::npos)
      << "a consumer that holds nothing is deleted on stop: " << cli("XINFO CONSUMERS " + stream + " " + group);
}

TEST_F(Redis, ARestartedMemberWithItsNameGetsItsPendingEntriesFirst) {
  const std::string stream = new_stream("samename"), group = "g";
  auto t = connect_or_die("stable");
  ASSERT_TRUE(t->publish(message(stream, "x")).is_ok());
  std::atomic<int> seen{0};
  {
    auto sub = t->subscribe(stream, {.group = group, .ack_wait = 60s}, [&](message) { ++seen; });
    ASSERT_TRUE(sub.is_ok());
    ASSERT_TRUE(eventually([&] { return seen.load() == 1; }));
  }  // stopped with the entry unsettled
  recorder got;
  auto again = connect_or_die("stable");
  auto sub = again->subscribe(stream, {.group = group, .ack_wait = 60s}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(eventually([&] { return got.all().size() == 1; }, 5s)) << "not left for ack_wait (60 s)";
  EXPECT_EQ(got.all()[0].delivery.delivery_count, 2u);
}

TEST_F(Redis, NackWithDelayInAGroupComesBackAfterTheDelayWithTheCount) {
  const std::string stream = new_stream("nackdelay");
  auto t = connect_or_die("nacker");
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> seen;
  auto sub = t->subscribe(stream, {.group = "g"}, [&](message m) {
    std::lock_guard lock(mu);
    seen.emplace_back(m.delivery.delivery_count, std::chrono::steady_clock::now());
    if (m.delivery.delivery_count < 3) {
      m.nack(300ms);
    } else {
      m.ack();
    }
  });
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(t->publish(message(stream, "again")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 3;
  }));
  std::lock_guard lock(mu);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(seen[i].first, i + 1);
  EXPECT_GE(seen[1].second - seen[0].second, 280ms);
  EXPECT_GE(seen[2].second - seen[1].second, 280ms);
}

TEST_F(Redis, EveryAcknowledgedPublishSurvivesAKilledServer) {
  const std::string stream = new_stream("crash");
  auto t = connect_or_die("crash", 100ms);
  std::atomic<bool> go{true};
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> failed{0};
  std::thread publisher([&] {
    for (int i = 0; go.load(); ++i) {
      const status s = t->publish(message(stream, std::to_string(i)));
      std::lock_guard lock(mu);
      if (s.is_ok()) {
        acknowledged.insert(std::to_string(i));
      } else {
        ++failed;
      }
    }
  });
  std::this_thread::sleep_for(300ms);
  server()->kill();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(server()->start_again());
  std::this_thread::sleep_for(300ms);
  go = false;
  publisher.join();
  recorder got;
  auto sub = t->subscribe(stream, {.group = "g"}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  std::lock_guard lock(mu);
  ASSERT_GT(acknowledged.size(), 10u);
  EXPECT_TRUE(eventually([&] {
    auto p = got.payloads();
    return std::includes(p.begin(), p.end(), acknowledged.begin(), acknowledged.end());
  })) << got.payloads().size()
      << " consumed of " << acknowledged.size() << " acknowledged";
}

TEST_F(Redis, FerryConsumesWhatRedisCliWrote) {
  const std::string stream = new_stream("from-cli");
  auto t = connect_or_die("cli");
  recorder got;
  auto sub = t->subscribe(stream, {}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  const std::string id = lines(cli("XADD " + stream + " '*' payload hello trace t-1 trace t-2 customer ann"))[0];
  ASSERT_TRUE(eventually([&] { return got.all().size() == 1; })) << id;
  const message m = got.all()[0];
  EXPECT_EQ(m.payload, "hello");
  EXPECT_EQ(m.id, stream + "/" + id) << "no ferry-id: the entry's own id";
  const auto traces = m.headers.all("trace");
  EXPECT_EQ(std::vector<std::string>(traces.begin(), traces.end()), (std::vector<std::string>{"t-1", "t-2"}));
  EXPECT_EQ(m.headers.value_or("customer", ""), "ann");
  EXPECT_EQ(m.delivery.transport, "redis");
}

TEST_F(Redis, RedisCliReadsWhatFerryPublished) {
  const std::string stream = new_stream("to-cli");
  auto t = connect_or_die("cli");
  message m(stream, "body with spaces");
  m.id = "the-id";
  m.key = "customer-7";
  m.headers.set("trace", "t-9").set("empty", "");
  ASSERT_TRUE(t->publish(m).is_ok());
  const auto out = lines(cli("XRANGE " + stream + " - +"));
  ASSERT_GE(out.size(), 11u) << cli("XRANGE " + stream + " - +");
  std::map<std::string, std::string> fields;
  for (std::size_t i = 1; i + 1 < out.size(); i += 2) fields[out[i]] = out[i + 1];
  EXPECT_EQ(fields["payload"], "body with spaces");
  EXPECT_EQ(fields["ferry-id"], "the-id");
  EXPECT_EQ(fields["ferry-key"], "customer-7");
  EXPECT_EQ(fields["trace"], "t-9");
  EXPECT_TRUE(fields.contains("empty"));
}

TEST_F(Redis, BadSubjectsAndReservedHeadersAreRefused) {
  auto t = connect_or_die("bad");
  for (const char* bad : {"orders.*", "orders.>", ">", "has space", "", "tab\there"}) {
    EXPECT_EQ(t->publish(message(bad, "x")).code(), status_code::invalid_argument) << bad;
    EXPECT_EQ(t->subscribe(bad, {}, [](message) {}).status().code(), status_code::invalid_argument) << bad;
  }
  EXPECT_EQ(t->subscribe("orders#eu", {}, [](message) {}).status().code(), status_code::invalid_argument)
      << "'#' marks a reply address: a publish to it goes to the stream before it";
  for (const char* reserved : {"payload", "ferry-id", "ferry-anything"}) {
    message m(new_stream("reserved"), "x");
    m.headers.set(reserved, "v");
    EXPECT_EQ(t->publish(m).code(), status_code::invalid_argument) << reserved;
  }
}

// With a 10 s `block`, a stop that waited for the read in progress would take up to 10 s. Stops
// right after subscribe race the read to Redis (the CLIENT UNBLOCK may come first); stops later
// find it blocked. A stream that gets entries after the stops shows the subscriptions are gone.
TEST_F(Redis, StopEndsABlockedReadAtOnceInsteadOfWaitingForItsBlock) {
  const std::string stream = new_stream("unblock");
  auto t = connect_or_die("unblocker", 10s);
  std::atomic<int> seen{0};
  for (int i = 0; i < 12; ++i) {
    const std::string group = i % 2 == 0 ? "" : "g";  // XREAD and XREADGROUP both block
    auto sub = t->subscribe(stream, {.group = group}, [&](message m) {
      ++seen;
      m.ack();
    });
    ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
    if (i >= 6) std::this_thread::sleep_for(150ms);  // blocked in its read by now
    const auto start = std::chrono::steady_clock::now();
    (*sub)->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "stop number " << i << (group.empty() ? " (XREAD)" : "");
  }
  // close() asks all at once: three blocked subscriptions and the reply listener (started by a
  // request nobody answers) end together, well within one block.
  EXPECT_EQ(t->request(message(new_stream("unanswered"), "q"), 50ms).status().code(), status_code::deadline_exceeded);
  std::vector<std::unique_ptr<subscription>> live;
  for (const char* group : {"", "g", "h"}) {
    auto sub = t->subscribe(stream, {.group = group}, [&](message) { ++seen; });
    ASSERT_TRUE(sub.is_ok());
    live.push_back(std::move(*sub));
  }
  std::this_thread::sleep_for(150ms);
  const auto start = std::chrono::steady_clock::now();
  t->close();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  auto other = connect_or_die("writer");
  ASSERT_TRUE(other->publish(message(stream, "after")).is_ok());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen.load(), 0) << "a stopped subscription delivered";
}

// An error reply in the middle of a pipelined batch (WRONGTYPE here; OOM or READONLY in
// production) ends the batch with that error, and the replies after it are read too: left
// unread, each would answer the next publish in place of its own.
TEST_F(Redis, AnErrorReplyInABatchLeavesTheConnectionInStep) {
  const std::string stream = new_stream("instep"), not_a_stream = new_stream("string");
  cli("SET " + not_a_stream + " x");
  auto t = connect_or_die("instep");
  std::vector<message> batch{message(stream, "a"), message(not_a_stream, "b"), message(stream, "c")};
  EXPECT_EQ(t->publish(std::move(batch)).code(), status_code::invalid_argument);
  ASSERT_TRUE(t->publish(message(stream, "d")).is_ok());
  EXPECT_EQ(t->publish(message(not_a_stream, "e")).code(), status_code::invalid_argument)
      << "this publish got another command's reply";
  ASSERT_TRUE(t->publish(message(stream, "f")).is_ok());
  const std::string range = cli("XRANGE " + stream + " - +");
  for (const char* p : {"a", "c", "d", "f"}) {
    EXPECT_NE(range.find(std::string("\n") + p + "\n"), std::string::npos) << p << " is not in the stream: " << range;
  }
}

// Entries this member already holds (in its handlers) between the ones it takes over from a dead
// member: the takeover still finds every delivery count (Redis lists them in one range).
TEST_F(Redis, TakenOverEntriesGetTheirCountsBesideOnesThisMemberHolds) {
  const std::string stream = new_stream("counts"), group = "g";
  auto t = connect_or_die("counter");
  std::vector<message> batch;
  for (int i = 1; i <= 10; ++i) batch.emplace_back(stream, std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());
  cli("XGROUP CREATE " + stream + " " + group + " 0");
  std::vector<std::string> id;  // the entry ids ("<ms>-<seq>") among XRANGE's lines
  for (const std::string& l : lines(cli("XRANGE " + stream + " - +"))) {
    const auto dash = l.find('-');
    const auto digits = [](std::string_view s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (dash != std::string::npos && digits(std::string_view(l).substr(0, dash)) &&
        digits(std::string_view(l).substr(dash + 1))) {
      id.push_back(l);
    }
  }
  ASSERT_EQ(id.size(), 10u) << cli("XRANGE " + stream + " - +");
  cli("XREADGROUP GROUP " + group + " dead COUNT 10 STREAMS " + stream + " '>'");  // "dead" holds all ten
  cli("XCLAIM " + stream + " " + group + " holder 0 " + id[1] + " " + id[3]);      // 2 and 4 go to "holder"
  cli("XACK " + stream + " " + group + " " + id[5] + " " + id[7] + " " + id[9]);
  std::this_thread::sleep_for(400ms);  // idle past ack_wait: "dead" is taken over
  auto holder = connect(server()->address(), {.consumer = "holder"});
  ASSERT_TRUE(holder.is_ok());
  std::mutex mu;
  std::map<std::string, std::uint32_t> count;
  std::vector<message> held;
  auto sub = (*holder)->subscribe(stream, {.group = group, .ack_wait = 300ms}, [&](message m) {
    std::lock_guard lock(mu);
    count[m.payload] = m.delivery.delivery_count;
    if (m.payload == "2" || m.payload == "4") {
      held.push_back(std::move(m));  // still in its handler when the others are taken over
    } else {
      m.ack();
    }
  });
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return count.size() == 7;
  })) << count.size();
  std::lock_guard lock(mu);
  for (const char* p : {"1", "3", "5", "7", "9"}) {
    EXPECT_EQ(count[p], 2u) << "entry " << p << ": delivered to \"dead\", then taken over";
  }
}

// A handler slower than ack_wait: the member's own XAUTOCLAIM takes its entry back while the
// handler still holds it (not delivered again), and Redis adds a delivery to its counter each
// time. Those were no deliveries: a member that takes the entry over after this one stopped gets
// count 2, not one more per ack_wait/2 the handler took, and max_deliver does not drop it after a
// single try.
TEST_F(Redis, AHandlerSlowerThanAckWaitDoesNotInflateTheDeliveryCount) {
  const std::string stream = new_stream("slow");
  auto t = connect_or_die("slow");
  std::mutex mu;
  std::optional<message> kept;  // callbacks run on the reader's thread: the "slow handler" keeps it
  auto sub = t->subscribe(stream, {.group = "g", .ack_wait = 200ms, .max_deliver = 3}, [&](message m) {
    std::lock_guard lock(mu);
    kept = std::move(m);
  });
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(t->publish(message(stream, "slow")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return kept.has_value();
  }));
  std::this_thread::sleep_for(1500ms);  // several of the member's XAUTOCLAIM rounds
  (*sub)->stop();                       // unsettled: left pending for another member

  auto next = connect_or_die("next");
  recorder got;
  std::atomic<std::uint32_t> count{0};
  auto taker = next->subscribe(stream, {.group = "g", .ack_wait = 200ms, .max_deliver = 3}, [&](message m) {
    count.store(m.delivery.delivery_count);
    m.ack();
  });
  ASSERT_TRUE(taker.is_ok());
  EXPECT_TRUE(eventually([&] { return count.load() != 0; }, 10s)) << "not taken over (dropped at max_deliver?)";
  EXPECT_EQ(count.load(), 2u);
}

// With MAXLEN trimming, an entry a member held pending may be gone when the member comes back
// with its name: its history read answers [id, nil]. It is not delivered as an empty message,
// and it leaves the pending list.
TEST_F(Redis, APendingEntryTrimmedAwayIsNotDeliveredEmpty) {
  const std::string stream = new_stream("trimmed"), group = "g";
  auto t = connect_or_die("trim");
  ASSERT_TRUE(t->publish(message(stream, "old")).is_ok());
  cli("XGROUP CREATE " + stream + " " + group + " 0");
  cli("XREADGROUP GROUP " + group + " returning COUNT 1 STREAMS " + stream + " '>'");  // pending, never acked
  ASSERT_TRUE(t->publish(message(stream, "new")).is_ok());
  cli("XTRIM " + stream + " MAXLEN 1");  // "old" is gone, still pending for "returning"
  auto back = connect(server()->address(), {.consumer = "returning"});
  ASSERT_TRUE(back.is_ok());
  recorder got;
  auto sub = (*back)->subscribe(stream, {.group = group}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(eventually([&] { return !got.all().empty(); }));
  std::this_thread::sleep_for(300ms);
  const auto all = got.all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].payload, "new");
  EXPECT_TRUE(eventually([&] { return lines(cli("XPENDING " + stream + " " + group))[0] == "0"; }))
      << cli("XPENDING " + stream + " " + group);
}

TEST_F(Redis, AnUnreachableServerIsUnavailableWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto t = connect("127.0.0.1:1", {.connect_timeout = 1s});
  EXPECT_EQ(t.status().code(), status_code::unavailable) << t.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

}  // namespace
}  // namespace ferry::redis
