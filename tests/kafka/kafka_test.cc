// What the SDK conformance suite cannot show on Kafka: commits that never pass an unsettled
// offset, a member killed with SIGKILL, a rebalance with messages in flight, both nack modes, a
// broker going down and up, and interop both ways with plain librdkafka programs. Against
// librdkafka's mock cluster in this process (3 brokers), and programs of this build.
#include "ferry/kafka.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "mock_cluster.h"
#include "process.h"
#include "transport_testing.h"

namespace ferry::kafka {
namespace {

using namespace std::chrono_literals;

kafka_mock::mock_cluster* mock() {
  static std::unique_ptr<kafka_mock::mock_cluster> c = [] {
    auto r = kafka_mock::mock_cluster::start(3);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(*r) : nullptr;
  }();
  return c.get();
}

options test_options(nack_mode mode = nack_mode::blocking) {
  options o = kafka_mock::mock_cluster::client_options("kafka-test");
  o.nack = mode;
  o.commit_interval = 50ms;
  o.revoke_timeout = 5s;
  return o;
}

std::unique_ptr<transport> connect_or_die(nack_mode mode = nack_mode::blocking) {
  auto t = connect(mock()->bootstrap_servers(), test_options(mode));
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? std::move(*t) : nullptr;
}

// A topic of its own for each test, with `partitions` partitions.
std::string new_topic(const std::string& name, int partitions) {
  static std::atomic<int> n{0};
  const std::string topic = "kt." + name + "." + std::to_string(++n) + "." + new_id().substr(0, 6);
  auto r = mock()->run("topic " + topic + " " + std::to_string(partitions));
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return topic;
}

// The offsets `group` committed for partitions 0..n-1 of `topic` (-1001: none), read with a plain
// librdkafka handle that never joins the group.
std::vector<std::int64_t> committed(const std::string& group, const std::string& topic, int n) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", mock()->bootstrap_servers().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  std::vector<std::int64_t> out(n, -1001);
  if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

using test::eventually;
using test::lines;
using test::read_file;
using test::recorder;

class Kafka : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::err);
    ASSERT_NE(mock(), nullptr);
  }
};

TEST_F(Kafka, OutOfOrderAcksCommitOnlyTheSettledPrefix) {
  const std::string topic = new_topic("prefix", 1), group = "g-prefix-" + new_id();
  auto t = connect_or_die();
  std::mutex mu;
  std::vector<message> kept;
  auto sub = t->subscribe(topic, {.group = group, .max_in_flight = 100}, [&](message m) {
    std::lock_guard lock(mu);
    kept.push_back(std::move(m));
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  std::vector<message> batch;
  for (int i = 0; i < 10; ++i) batch.emplace_back(topic, std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return kept.size() == 10;
  }));
  std::lock_guard lock(mu);
  for (int i = 9; i >= 2; --i) EXPECT_TRUE(kept[i].ack());  // everything but 0 and 1, backwards
  std::this_thread::sleep_for(300ms);                       // several commit intervals
  const auto before = committed(group, topic, 1)[0];
  EXPECT_TRUE(before == -1001 || before == 0) << "committed " << before << " with offset 0 unsettled";
  EXPECT_TRUE(kept[0].ack());
  EXPECT_TRUE(eventually([&] { return committed(group, topic, 1)[0] == 1; })) << committed(group, topic, 1)[0];
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(committed(group, topic, 1)[0], 1) << "offset 1 is still unsettled";
  EXPECT_TRUE(kept[1].term("done"));
  EXPECT_TRUE(eventually([&] { return committed(group, topic, 1)[0] == 10; })) << committed(group, topic, 1)[0];
}

TEST_F(Kafka, AMemberKilledWithSigkillLosesNothing) {
  const std::string topic = new_topic("sigkill", 4), group = "g-sigkill-" + new_id();
  auto t = connect_or_die();
  constexpr int total = 100;
  std::vector<message> batch;
  for (int i = 0; i < total; ++i) {
    message m(topic, std::to_string(i));
    m.key = "k" + std::to_string(i % 10);
    batch.push_back(std::move(m));
  }
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());

  const std::string dir = test::make_temp_dir("ferry-kafka-sigkill-"), out = dir + "/member.out";
  test::child_process member;
  ASSERT_TRUE(member.start(
      {test::program_path("kafka_member", "FERRY_KAFKA_MEMBER"), mock()->bootstrap_servers(), topic, group, "30"},
      out));
  auto output = [&] {
    std::ifstream in(out);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ASSERT_TRUE(eventually([&] { return output().find("holding") != std::string::npos; }, 60s)) << output();
  std::this_thread::sleep_for(150ms);  // let it commit what it acked
  member.kill();
  std::set<std::string> acked_by_killed;
  std::istringstream lines(output());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("acked ", 0) == 0) acked_by_killed.insert(line.substr(6));
  }
  EXPECT_EQ(acked_by_killed.size(), 30u);

  recorder got;
  auto sub = t->subscribe(topic, {.group = group}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  auto covered = [&] {
    std::set<std::string> all = acked_by_killed;
    for (const message& m : got.all()) all.insert(m.payload);
    return all.size() == static_cast<std::size_t>(total);
  };
  EXPECT_TRUE(eventually(covered, 60s)) << got.unique() << " received by the next member";
  std::set<std::string> next;
  for (const message& m : got.all()) next.insert(m.payload);
  for (int i = 0; i < total; ++i) {
    const std::string p = std::to_string(i);
    if (!acked_by_killed.contains(p)) {
      EXPECT_TRUE(next.contains(p)) << "unacknowledged " << p << " was lost";
    }
  }
}

// Two members, handlers that settle a little later on other threads and nack some messages: a
// second member joins, then leaves, while the messages flow. Each key must be processed in order
// (a message processed for the first time only after every earlier one of its key), nothing lost.
TEST_F(Kafka, ARebalanceWithMessagesInFlightLosesNothingAndKeepsKeyOrder) {
  const std::string topic = new_topic("rebalance", 4), group = "g-rebalance-" + new_id();
  constexpr int keys = 8, per_key = 60;
  struct processed {
    int key, seq;
  };
  // Shared with the handler threads, which may outlive a stopped subscription by a few ms.
  struct state {
    std::mutex mu;
    std::vector<processed> log;  // in processing order, both members
    std::set<std::pair<int, int>> first_nacks;
  };
  auto st = std::make_shared<state>();
  std::mutex& mu = st->mu;
  std::vector<processed>& log = st->log;
  auto handler = [st](message m) {
    std::thread([st, m]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + std::hash<std::string>()(m.id) % 4));
      const int key = std::stoi(m.key.substr(1)), seq = std::stoi(m.payload);
      std::lock_guard lock(st->mu);
      if (seq % 7 == 3 && st->first_nacks.insert({key, seq}).second) {
        m.nack(20ms);  // once: the partition goes back to it
        return;
      }
      st->log.push_back({key, seq});
      m.ack();
    }).detach();
  };
  auto first = connect_or_die();
  auto a = first->subscribe(topic, {.group = group, .max_in_flight = 32}, handler);
  ASSERT_TRUE(a.is_ok());
  auto pub = connect_or_die();
  std::thread publisher([&] {
    for (int s = 0; s < per_key; ++s) {
      for (int k = 0; k < keys; ++k) {
        message m(topic, std::to_string(s));
        m.key = "k" + std::to_string(k);
        EXPECT_TRUE(pub->publish(m).is_ok());
      }
      std::this_thread::sleep_for(60ms);
    }
  });
  std::this_thread::sleep_for(4s);
  auto second_conn = connect_or_die();
  auto b = second_conn->subscribe(topic, {.group = group, .max_in_flight = 32}, handler);
  ASSERT_TRUE(b.is_ok());
  std::this_thread::sleep_for(5s);
  (*b)->stop();  // leaves: its partitions go back to the first member
  publisher.join();
  auto all_done = [&] {
    std::lock_guard lock(mu);
    std::set<std::pair<int, int>> seen;
    for (const processed& p : log) seen.insert({p.key, p.seq});
    return seen.size() == static_cast<std::size_t>(keys * per_key);
  };
  EXPECT_TRUE(eventually(all_done, 60s));
  std::this_thread::sleep_for(200ms);  // let the detached handlers finish
  std::lock_guard lock(mu);
  std::map<int, std::set<int>> done;
  for (const processed& p : log) {
    std::set<int>& d = done[p.key];
    if (!d.contains(p.seq)) {
      EXPECT_EQ(d.size(), static_cast<std::size_t>(p.seq))
          << "key " << p.key << ": " << p.seq << " processed before every earlier message of its key";
    }
    d.insert(p.seq);
  }
}

TEST_F(Kafka, BlockingNackRedeliversBeforeTheKeysNextMessage) {
  const std::string topic = new_topic("blocking", 1);
  auto t = connect_or_die();
  std::mutex mu;
  std::vector<std::pair<std::string, std::uint64_t>> seen;  // payload, delivery count
  std::vector<std::chrono::steady_clock::time_point> at;
  auto sub = t->subscribe(topic, {}, [&](message m) {
    std::lock_guard lock(mu);
    seen.emplace_back(m.payload, m.delivery.delivery_count);
    at.push_back(std::chrono::steady_clock::now());
    if (m.payload == "a1" && m.delivery.delivery_count == 1) {
      m.nack(300ms);
    } else {
      m.ack();
    }
  });
  ASSERT_TRUE(sub.is_ok());
  for (const char* p : {"a1", "b1", "a2"}) {
    message m(topic, p);
    m.key = std::string(1, p[0]);
    ASSERT_TRUE(t->publish(m).is_ok());
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 4;
  }));
  std::this_thread::sleep_for(300ms);
  std::lock_guard lock(mu);
  std::vector<std::pair<std::string, std::uint64_t>> a;
  int b = 0;
  for (const auto& s : seen) {
    if (s.first[0] == 'a') a.push_back(s);
    if (s.first == "b1") ++b;
  }
  const std::vector<std::pair<std::string, std::uint64_t>> want = {{"a1", 1}, {"a1", 2}, {"a2", 1}};
  EXPECT_EQ(a, want) << "a2 must wait for a1's redelivery";
  EXPECT_EQ(b, 1) << "b1 was acked before the rewind: not delivered again";
  for (std::size_t i = 1; i < seen.size(); ++i) {
    if (seen[i] == std::pair<std::string, std::uint64_t>{"a1", 2}) {
      EXPECT_GE(at[i] - at[0], 280ms) << "redelivered before the delay";
    }
  }
}

TEST_F(Kafka, RetryTopicsRedeliverWithTheCountAfterTheDelayWhileThePartitionFlows) {
  const std::string topic = new_topic("retry", 1), group = "g-retry-" + new_id();
  auto t = connect_or_die(nack_mode::retry_topics);
  std::mutex mu;
  struct delivery {
    std::string payload, id, key, header;
    std::uint64_t count;
    bool redelivered;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<delivery> seen;
  auto sub = t->subscribe(topic, {.group = group}, [&](message m) {
    std::lock_guard lock(mu);
    seen.push_back({m.payload, m.id, m.key, std::string(m.headers.get("trace").value_or("")), m.delivery.delivery_count,
                    m.delivery.redelivered, std::chrono::steady_clock::now()});
    EXPECT_EQ(m.subject, topic) << "a retry copy is delivered under its topic";
    if (m.payload == "poison" && m.delivery.delivery_count < 3) {
      m.nack(400ms);
    } else {
      m.ack();
    }
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  message poison(topic, "poison");
  poison.key = "same";
  poison.id = "poison-id";
  poison.headers.set("trace", "t-1");
  ASSERT_TRUE(t->publish(poison).is_ok());
  message next(topic, "next");
  next.key = "same";
  ASSERT_TRUE(t->publish(next).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 4;
  }));
  std::lock_guard lock(mu);
  std::vector<delivery> p;
  std::chrono::steady_clock::time_point next_at{};
  for (const delivery& d : seen) {
    if (d.payload == "poison") p.push_back(d);
    if (d.payload == "next") next_at = d.at;
  }
  ASSERT_EQ(p.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p[i].count, i + 1);
    EXPECT_EQ(p[i].redelivered, i > 0);
    EXPECT_EQ(p[i].id, "poison-id") << "the copy keeps the id";
    EXPECT_EQ(p[i].key, "same") << "and the key";
    EXPECT_EQ(p[i].header, "t-1") << "and the headers";
    if (i > 0) {
      EXPECT_GE(p[i].at - p[i - 1].at, 380ms) << "delivery " << i + 1 << " came before its delay";
    }
  }
  EXPECT_LT(next_at, p[1].at) << "the partition kept flowing: the next message did not wait for the retry";
  const auto c = committed(group, topic, 1)[0];
  EXPECT_TRUE(eventually([&] { return committed(group, topic, 1)[0] == 2; })) << c;
}

// A handler may keep a message past its subscription's end (a slow handler at shutdown). In
// retry-topic mode the transport keeps what a nack would copy: had it kept librdkafka's message,
// rd_kafka_destroy would wait for it, and the subscription's end for its 10 s limit (on top of
// revoke_timeout, 5 s here, for the unsettled message). A nack after the end copies nothing: the
// partition's next owner has the original.
TEST_F(Kafka, AMessageKeptPastItsSubscriptionsStopHoldsNothingUp) {
  const std::string topic = new_topic("keptpast", 1), group = "g-kept-" + new_id();
  auto t = connect_or_die(nack_mode::retry_topics);
  std::mutex mu;
  std::vector<message> kept;
  auto sub = t->subscribe(topic, {.group = group}, [&](message m) {
    std::lock_guard lock(mu);
    kept.push_back(std::move(m));
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  ASSERT_TRUE(t->publish(message(topic, "kept")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return kept.size() == 1;
  }));
  const auto start = std::chrono::steady_clock::now();
  sub->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s) << "the subscription's end waited for the kept message";
  kept[0].nack(0ms);
  kept.clear();
  recorder got;
  auto next = t->subscribe(topic, {.group = group}, got.acking());
  ASSERT_TRUE(next.is_ok());
  ASSERT_TRUE(eventually([&] { return got.all().size() == 1; })) << "the next member gets the original";
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(got.all().size(), 1u) << "and no retry copy besides";
  EXPECT_EQ(got.all()[0].payload, "kept");
}

TEST_F(Kafka, ABrokerGoingDownAndUpIsSurvived) {
  const std::string topic = new_topic("brokerdown", 6);
  auto t = connect_or_die();
  recorder got;
  auto sub = t->subscribe(topic, {}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  constexpr int total = 300;
  std::atomic<int> ok{0}, failed{0};
  std::thread load([&] {
    for (int i = 0; i < total; ++i) {
      message m(topic, std::to_string(i));
      m.key = "k" + std::to_string(i);
      t->publish_async(m, [&](status s) { (s.is_ok() ? ok : failed).fetch_add(1); });
      std::this_thread::sleep_for(5ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(mock()->run("down 2").is_ok());
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(mock()->run("up 2").is_ok());
  load.join();
  ASSERT_TRUE(eventually([&] { return ok + failed == total; }, 60s));
  EXPECT_EQ(failed.load(), 0) << "publishes waited for the broker instead of failing";
  EXPECT_TRUE(eventually([&] { return got.unique() == static_cast<std::size_t>(total); }, 60s)) << got.unique();
}

// librdkafka's queue holds 16 messages here: publishers wait for reports to make room (taking
// them themselves), never fail for it, and every callback runs once.
TEST_F(Kafka, AFullProducerQueueWaitsForReportsInsteadOfFailing) {
  const std::string topic = new_topic("fullqueue", 4);
  options o = test_options();
  o.properties["queue.buffering.max.messages"] = "16";
  auto t = connect(mock()->bootstrap_servers(), o);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  constexpr int per_thread = 2000;
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::vector<std::string> errors;
  const auto publish_all = [&](int who) {
    for (int i = 0; i < per_thread; ++i) {
      message m(topic, std::to_string(i));
      m.key = "k" + std::to_string(who) + "." + std::to_string(i % 8);
      (*t)->publish_async(m, [&](status s) {
        if (s.is_ok()) {
          ok.fetch_add(1);
          return;
        }
        failed.fetch_add(1);
        std::lock_guard lock(mu);
        errors.push_back(s.to_string());
      });
    }
  };
  std::thread a(publish_all, 0), b(publish_all, 1);
  std::vector<message> batch;
  for (int i = 0; i < 500; ++i) batch.emplace_back(topic, "batch-" + std::to_string(i));
  const status batched = (*t)->publish(std::move(batch));
  a.join();
  b.join();
  EXPECT_TRUE(batched.is_ok()) << batched.to_string();
  EXPECT_TRUE((*t)->flush(30s).is_ok());
  EXPECT_EQ(ok.load(), 2 * per_thread);
  EXPECT_EQ(failed.load(), 0) << (errors.empty() ? "" : errors.front());
}

// close() while two threads publish: every message already handed over gets the broker's answer,
// every later one "publish after the transport was closed", each callback exactly once; so is a
// publish to, or a subscription of, a new topic after close().
TEST_F(Kafka, CloseWhilePublishingAnswersEveryCallbackOnce) {
  const std::string topic = new_topic("closing", 4);
  auto t = connect_or_die();
  std::atomic<int> ok{0}, closed{0}, other{0}, published{0};
  std::atomic<bool> stop{false};
  const auto publish_all = [&] {
    for (int i = 0; !stop.load(); ++i) {
      published.fetch_add(1);
      t->publish_async(message(topic, std::to_string(i)), [&](status s) {
        if (s.is_ok()) {
          ok.fetch_add(1);
        } else if (s.code() == status_code::failed_precondition) {
          closed.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
      });
      if (closed.load() > 0) stop = true;
    }
  };
  std::thread a(publish_all), b(publish_all);
  ASSERT_TRUE(eventually([&] { return ok.load() > 200; }, 30s));
  t->close();
  ASSERT_TRUE(eventually([&] { return stop.load(); }, 30s));
  a.join();
  b.join();
  EXPECT_EQ(ok + closed + other, published.load()) << "a callback ran twice or never";
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(closed.load(), 0);
  // A topic this producer never saw: refused before anything touches the closed librdkafka handle.
  EXPECT_EQ(t->publish(message(topic + "-later", "x")).code(), status_code::failed_precondition);
  EXPECT_EQ(t->subscribe(topic + "-later", {}, [](message) {}).status().code(), status_code::failed_precondition);
}

TEST_F(Kafka, AnOversizedMessageIsInvalidArgumentNamingTheLimit) {
  const std::string topic = new_topic("big", 1);
  auto t = connect_or_die();
  const status s = t->publish(message(topic, std::string(2 * 1024 * 1024, 'x')));
  EXPECT_EQ(s.code(), status_code::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("message.max.bytes"), std::string::npos) << s.message();
  EXPECT_TRUE(t->publish(message(topic, "small")).is_ok());
}

TEST_F(Kafka, WildcardsAndBadTopicNamesAreRefused) {
  auto t = connect_or_die();
  for (const char* bad : {"orders.*", "orders.>", "has space", "", "slash/topic"}) {
    EXPECT_EQ(t->publish(message(bad, "x")).code(), status_code::invalid_argument) << bad;
    auto s = t->subscribe(bad, {}, [](message) {});
    EXPECT_EQ(s.status().code(), status_code::invalid_argument) << bad;
  }
  auto s = t->subscribe("orders.*", {}, [](message) {});
  EXPECT_NE(s.status().message().find("no wildcards"), std::string::npos) << s.status().message();
}

// Interop with plain librdkafka programs.
std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

int run(const std::string& cmd, std::string* out) {
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out->append(buf, n);
  return pclose(f);
}

std::string plain() { return test::program_path("kafka_plain", "FERRY_KAFKA_PLAIN"); }

TEST_F(Kafka, FerryConsumesWhatAPlainProducerWrote) {
  const std::string topic = new_topic("from-plain", 2);
  auto t = connect_or_die();
  recorder got;
  auto sub = t->subscribe(topic, {}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  std::string out;
  ASSERT_EQ(run(plain() + " produce " + mock()->bootstrap_servers() + " " + topic + " 5", &out), 0) << out;
  ASSERT_TRUE(eventually([&] { return got.unique() == 5; })) << got.unique();
  for (const message& m : got.all()) {
    const std::string i = m.headers.value_or("plain-index", "?");
    EXPECT_EQ(m.key, "key-" + i);
    EXPECT_EQ(m.payload, "value-" + i + std::string("\0\xff", 2));
    EXPECT_EQ(m.headers.value_or("plain-bin", ""), std::string("\0\r\n", 3));
    const auto multi = m.headers.all("plain-multi");
    EXPECT_EQ(std::vector<std::string>(multi.begin(), multi.end()), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(m.id,
              topic + "/" + std::to_string(m.delivery.partition) + "/" + std::to_string(m.delivery.stream_sequence - 1))
        << "a message without Ferry-Id gets its log position as id";
    EXPECT_EQ(m.delivery.transport, "kafka");
  }
}

TEST_F(Kafka, APlainConsumerReadsWhatFerryPublished) {
  const std::string topic = new_topic("to-plain", 2);
  auto t = connect_or_die();
  std::map<std::string, message> sent;  // by key
  for (int i = 0; i < 6; ++i) {
    message m(topic, "payload-" + std::to_string(i) + std::string("\0\n", 2));
    m.key = "key-" + std::to_string(i);
    m.id = "id-" + std::to_string(i);
    m.headers.set("trace", "t-" + std::to_string(i)).add("multi", "x").add("multi", "y");
    sent[m.key] = m;
    ASSERT_TRUE(t->publish(m).is_ok());
  }
  std::string out;
  ASSERT_EQ(run(plain() + " consume " + mock()->bootstrap_servers() + " " + topic + " 6", &out), 0) << out;
  std::istringstream lines(out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    std::istringstream fields(line);
    std::map<std::string, std::vector<std::string>> f;
    for (std::string kv; fields >> kv;) {
      const auto eq = kv.find('=');
      f[kv.substr(0, eq)].push_back(kv.substr(eq + 1));
    }
    const message* m = nullptr;
    for (const auto& [key, s] : sent) {
      if (hex(key) == f["key"].at(0)) m = &s;
    }
    ASSERT_NE(m, nullptr) << line;
    EXPECT_EQ(f["value"].at(0), hex(m->payload));
    EXPECT_EQ(f["trace"], std::vector<std::string>{hex(m->headers.value_or("trace", ""))});
    EXPECT_EQ(f["multi"], (std::vector<std::string>{hex("x"), hex("y")}));
    EXPECT_EQ(f["Ferry-Id"], std::vector<std::string>{hex(m->id)});
  }
  EXPECT_EQ(n, 6);
}

}  // namespace
}  // namespace ferry::kafka
