// What the SDK conformance suite cannot show on RabbitMQ: a member killed with SIGKILL whose
// unacknowledged messages another member gets, a graceful stop that leaves nothing acknowledged
// behind, nack delays and ack_wait as requeues with the quorum queue's count, max_deliver to a
// dead-letter exchange, mandatory publishing, rabbitmq-server killed under load, bad input at the
// edges, and interop both ways with pika. Against Debian's rabbitmq-server, started once for the
// binary on free loopback ports in a temporary directory (one ctest test: the node takes seconds
// to boot).
#include "ferry/rabbitmq.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "ferry/connect.h"
#include "process.h"
#include "rabbitmq_server.h"
#include "transport_testing.h"

namespace ferry::rabbitmq {
namespace {

using namespace std::chrono_literals;

test::rabbitmq_server* server() {
  static std::unique_ptr<test::rabbitmq_server> s = [] {
    auto r = std::make_unique<test::rabbitmq_server>();
    if (!r->start(test::make_temp_dir("ferry-rabbitmq-test-"))) r.reset();
    return r;
  }();
  return s.get();
}

std::unique_ptr<transport> connect_or_die(const std::string& address, options o) {
  auto t = connect(address, std::move(o));
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? std::move(*t) : nullptr;
}
std::unique_ptr<transport> connect_or_die(options o) { return connect_or_die(server()->address(), std::move(o)); }
std::unique_ptr<transport> connect_or_die() { return connect_or_die(options{}); }

std::string new_subject(const std::string& name) {
  static std::atomic<int> n{0};
  return "rt." + name + "." + std::to_string(++n) + "." + new_id().substr(0, 6);
}

using test::eventually;
using test::lines;
using test::read_file;
using test::recorder;

// Subscribes `group` and stops: its queue exists, so what is published next is kept for it.
void declare_group(transport& t, const std::string& subject, const std::string& group) {
  auto sub = t.subscribe(subject, {.group = group}, [](message m) { m.nack(); });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  (*sub)->stop();
}

class RabbitMQ : public testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::err);
    if (server() == nullptr) {
      if (!test::rabbitmq_server::available()) {
        GTEST_SKIP() << "rabbitmq-server is not installed (make deps installs it)";
      }
      FAIL() << "rabbitmq-server is installed but did not start (its log is in the ferry-rabbitmq-test-* directory)";
    }
  }
};

TEST_F(RabbitMQ, AMemberKilledWithSigkillHasItsUnacknowledgedMessagesRedelivered) {
  const std::string subject = new_subject("sigkill"), group = "g";
  auto t = connect_or_die();
  declare_group(*t, subject, group);
  constexpr int total = 60;
  std::vector<message> batch;
  for (int i = 0; i < total; ++i) batch.emplace_back(subject, std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());

  const std::string dir = test::make_temp_dir("ferry-rabbitmq-member-"), out = dir + "/member.out";
  test::child_process member;
  ASSERT_TRUE(member.start(
      {test::program_path("rabbitmq_member", "FERRY_RABBITMQ_MEMBER"), server()->address(), subject, group, "20"},
      out));
  ASSERT_TRUE(eventually([&] { return read_file(out).find("holding") != std::string::npos; })) << read_file(out);
  std::this_thread::sleep_for(300ms);  // its acks reach the broker
  member.kill();
  std::set<std::string> acked_by_killed;
  for (const std::string& l : lines(read_file(out))) {
    if (l.rfind("acked ", 0) == 0) acked_by_killed.insert(l.substr(6));
  }
  ASSERT_EQ(acked_by_killed.size(), 20u);

  recorder got;
  auto sub = t->subscribe(subject, {.group = group}, got.acking());
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  EXPECT_TRUE(eventually([&] { return got.size() >= total - 20; })) << got.size();
  std::this_thread::sleep_for(300ms);  // nothing more comes
  EXPECT_EQ(got.size(), static_cast<std::size_t>(total - 20));
  std::set<std::string> all = acked_by_killed;
  for (const message& m : got.all()) {
    EXPECT_FALSE(acked_by_killed.contains(m.payload)) << m.payload << " was acknowledged, yet delivered again";
    EXPECT_EQ(m.delivery.delivery_count, 2u) << m.payload << ": the killed member had it";
    EXPECT_TRUE(m.delivery.redelivered);
    all.insert(m.payload);
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(total));
}

TEST_F(RabbitMQ, AGracefulStopAcknowledgesWhatWasHandledAndLeavesTheRestToOthers) {
  const std::string subject = new_subject("graceful"), group = "g";
  auto t = connect_or_die();
  declare_group(*t, subject, group);
  constexpr int total = 100;
  std::vector<message> batch;
  for (int i = 0; i < total; ++i) batch.emplace_back(subject, std::to_string(i));
  ASSERT_TRUE(t->publish(std::move(batch)).is_ok());
  std::set<std::string> acked;
  std::vector<message> held;
  {
    auto first = connect_or_die();
    std::mutex mu;
    auto sub = first->subscribe(subject, {.group = group, .max_in_flight = 50}, [&](message m) {
      std::lock_guard lock(mu);
      if (acked.size() < 30) {
        m.ack();
        acked.insert(m.payload);
      } else {
        held.push_back(std::move(m));  // never settled
      }
    });
    ASSERT_TRUE(sub.is_ok());
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(mu);
      return acked.size() == 30 && !held.empty();
    }));
    (*sub)->stop();  // right after the acks: they go out before it closes
    first->close();
  }
  for (message& m : held) EXPECT_TRUE(m.ack());  // too late: ignored, the broker requeued them
  recorder rest;
  auto sub = t->subscribe(subject, {.group = group}, rest.acking());
  ASSERT_TRUE(sub.is_ok());
  EXPECT_TRUE(eventually([&] { return rest.size() >= total - 30; })) << rest.size();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rest.size(), static_cast<std::size_t>(total - 30));
  for (const message& m : rest.all()) EXPECT_FALSE(acked.contains(m.payload)) << m.payload << " handled twice";
}

TEST_F(RabbitMQ, NackDelayAndAckWaitRequeueWithTheQueueCount) {
  const std::string subject = new_subject("requeue");
  auto t = connect_or_die();
  std::mutex mu;
  std::vector<std::pair<std::chrono::steady_clock::time_point, message>> seen;
  auto sub = t->subscribe(subject, {.group = "g", .ack_wait = 500ms}, [&](message m) {
    std::lock_guard lock(mu);
    seen.emplace_back(std::chrono::steady_clock::now(), m);
    if (m.payload == "next") {
      m.ack();
      return;
    }
    if (m.delivery.delivery_count == 1) m.nack(300ms);
    if (m.delivery.delivery_count == 3) m.ack();
    // the second delivery is left unsettled: ack_wait requeues it
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  ASSERT_TRUE(t->publish(message(subject, "x")).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 3;
  }));
  {
    // The late ack of the requeued delivery is dropped by the transport (acking a tag the broker
    // took back would close the channel): the subscription goes on undisturbed.
    std::lock_guard lock(mu);
    EXPECT_TRUE(seen[1].second.ack());
  }
  message next(subject, "next");
  next.id = new_id();
  ASSERT_TRUE(t->publish(next).is_ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 4;
  }));
  std::this_thread::sleep_for(1s);  // nothing else comes
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[3].second.id, next.id);
  EXPECT_EQ(seen[3].second.delivery.delivery_count, 1u);
  seen.pop_back();
  ASSERT_EQ(seen.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].second.delivery.delivery_count, i + 1);
    EXPECT_EQ(seen[i].second.delivery.redelivered, i > 0);
    EXPECT_EQ(seen[i].second.id, seen[0].second.id);
  }
  EXPECT_GE(seen[1].first - seen[0].first, 290ms) << "the nack delay was not kept";
  EXPECT_GE(seen[2].first - seen[1].first, 490ms) << "requeued before ack_wait";
}

TEST_F(RabbitMQ, MaxDeliverRejectsToTheDeadLetterExchange) {
  const std::string subject = new_subject("poison");
  auto dlx = connect_or_die({.exchange = "ferry-test-dlx"});  // declares the dead-letter exchange
  recorder letters;
  auto dead = dlx->subscribe(">", {.group = "letters." + subject}, letters.acking());
  ASSERT_TRUE(dead.is_ok()) << dead.status().to_string();
  auto t = connect_or_die({.dead_letter_exchange = "ferry-test-dlx"});
  std::atomic<int> deliveries{0};
  auto sub = t->subscribe(subject, {.group = "g", .max_deliver = 3}, [&](message m) {
    ++deliveries;
    m.nack();
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  message poison(subject, "poison");
  poison.id = "poison-1";
  ASSERT_TRUE(t->publish(poison).is_ok());
  ASSERT_TRUE(eventually([&] { return letters.size() >= 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(deliveries.load(), 3);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters.all()[0].id, "poison-1");
  EXPECT_EQ(letters.all()[0].subject, subject);
  EXPECT_EQ(letters.all()[0].payload, "poison");
}

TEST_F(RabbitMQ, AMessageNoQueueTakesIsAnErrorUnlessDropIsAsked) {
  auto t = connect_or_die();
  const std::string nobody = new_subject("nobody");
  const status s = t->publish(message(nobody, "x"));
  EXPECT_EQ(s.code(), status_code::unavailable) << s.to_string();
  EXPECT_NE(s.message().find("no queue is bound"), std::string::npos) << s.to_string();
  std::vector<message> batch;
  const std::string someone = new_subject("someone");
  recorder got;
  auto sub = t->subscribe(someone, {}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  batch.emplace_back(someone, "1");
  batch.emplace_back(nobody, "2");
  batch.emplace_back(someone, "3");
  EXPECT_EQ(t->publish(std::move(batch)).code(), status_code::unavailable);
  EXPECT_TRUE(eventually([&] { return got.payloads() == std::set<std::string>{"1", "3"}; }));
  std::promise<status> async;
  t->publish_async(message(nobody, "x"), [&](status st) { async.set_value(st); });
  EXPECT_EQ(async.get_future().get().code(), status_code::unavailable);

  auto dropping = connect_or_die({.unroutable = unroutable_policy::drop});
  EXPECT_TRUE(dropping->publish(message(nobody, "x")).is_ok());
}

// publish_async waits for room once max_pending messages are queued or unconfirmed: a fast
// publisher never has more than that outstanding, and every message is confirmed.
TEST_F(RabbitMQ, PublishAsyncKeepsAtMostMaxPendingOutstanding) {
  const std::string subject = new_subject("bounded");
  auto t = connect_or_die({.max_pending = 8});
  declare_group(*t, subject, "g");
  constexpr int n = 2000;
  std::atomic<int> completed{0}, failed{0};
  int most = 0;
  for (int i = 0; i < n; ++i) {
    t->publish_async(message(subject, std::to_string(i)), [&](status s) {
      if (!s.is_ok()) failed.fetch_add(1);
      completed.fetch_add(1);  // before the publisher makes room for the next one
    });
    most = std::max(most, i + 1 - completed.load());
  }
  EXPECT_TRUE(t->flush(30s).is_ok());
  EXPECT_EQ(completed.load(), n);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LE(most, 8) << "more messages outstanding than max_pending";
  EXPECT_EQ(connect(server()->address(), {.max_pending = 0}).status().code(), status_code::invalid_argument);
}

TEST_F(RabbitMQ, EveryConfirmedPublishSurvivesAKilledBroker) {
  test::rabbitmq_server own;
  ASSERT_TRUE(own.start(test::make_temp_dir("ferry-rabbitmq-crash-")));
  const std::string subject = new_subject("crash");
  auto t = connect_or_die(own.address(), {.publish_timeout = 60s});
  declare_group(*t, subject, "g");
  std::this_thread::sleep_for(3s);  // RabbitMQ 3.10 writes a new quorum queue's registration a moment later
  std::mutex mu;
  std::set<std::string> confirmed;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> publishers;
  for (int p = 0; p < 4; ++p) {
    publishers.emplace_back([&, p] {
      for (int i = 0; !stop.load(); ++i) {
        message m(subject, std::to_string(p) + "-" + std::to_string(i));
        if (t->publish(m).is_ok()) {
          std::lock_guard lock(mu);
          confirmed.insert(m.payload);
        } else {
          ++failures;
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return confirmed.size() >= 300;
  }));
  auto impatient = connect_or_die(own.address(), {.publish_timeout = 1s});
  own.kill();  // SIGKILL mid-load
  // A publish that cannot be confirmed within publish_timeout fails, it does not wait forever.
  const auto tried = std::chrono::steady_clock::now();
  const status down = impatient->publish(message(subject, "while down"));
  const auto waited = std::chrono::steady_clock::now() - tried;
  EXPECT_EQ(down.code(), status_code::unavailable) << down.to_string();
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 5s);
  ASSERT_TRUE(own.start_again());
  const std::size_t before = [&] {
    std::lock_guard lock(mu);
    return confirmed.size();
  }();
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return confirmed.size() >= before + 200;  // publishing goes on after the restart
  }));
  stop.store(true);
  for (auto& th : publishers) th.join();
  recorder got;
  auto sub = t->subscribe(subject, {.group = "g", .max_in_flight = 1000}, got.acking());
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  std::lock_guard lock(mu);
  EXPECT_TRUE(eventually([&] {
    const auto have = got.payloads();
    return std::includes(have.begin(), have.end(), confirmed.begin(), confirmed.end());
  })) << got.payloads().size()
      << " of " << confirmed.size() << " confirmed";
  EXPECT_EQ(failures.load(), 0) << "publishes failed although the broker came back within publish_timeout";
}

// A broker short of memory or disk blocks the connections that publish (it stops reading them)
// until its alarm clears. Publishing then fails within publish_timeout, saying why, instead of
// waiting for the alarm; close() does not wait for it either; once it clears, publishing goes on.
TEST_F(RabbitMQ, AResourceAlarmFailsPublishesWithinPublishTimeoutAndTheyGoOnAfterIt) {
  test::rabbitmq_server own;
  ASSERT_TRUE(own.start(test::make_temp_dir("ferry-rabbitmq-alarm-")));
  const std::string subject = new_subject("alarm");
  auto t = connect_or_die(own.address(), {.publish_timeout = 2s});
  declare_group(*t, subject, "g");
  ASSERT_TRUE(t->publish(message(subject, "before")).is_ok());
  ASSERT_TRUE(own.ctl({"set_vm_memory_high_watermark", "0.000001"}));

  // A message blocks the connection that sends it; the broker says why, and the publish fails
  // with that reason after publish_timeout.
  const auto tried = std::chrono::steady_clock::now();
  const status during = t->publish(message(subject, "during"));
  EXPECT_LT(std::chrono::steady_clock::now() - tried, 4s);
  EXPECT_EQ(during.code(), status_code::unavailable) << during.to_string();
  EXPECT_NE(during.message().find("the broker blocks publishing (low on memory)"), std::string::npos)
      << during.to_string();

  // More bytes than the sockets' buffers hold, on a new connection: the I/O thread's write stalls
  // (the broker reads nothing), and the watchdog ends it after publish_timeout.
  auto stuck = connect_or_die(own.address(), {.publish_timeout = 2s});
  const std::string big(256 * 1024, 'x');
  constexpr int n = 200;
  std::atomic<int> completed{0};
  std::mutex mu;
  std::map<status_code, int> codes;
  std::string reason;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    stuck->publish_async(message(subject, big), [&](status s) {
      std::lock_guard lock(mu);
      ++codes[s.code()];
      if (!s.is_ok()) reason = s.message();
      completed.fetch_add(1);
    });
  }
  EXPECT_TRUE(eventually([&] { return completed.load() == n; }, 10s)) << completed.load() << " of " << n;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(codes[status_code::unavailable], n);
    // The broker's reason, or the watchdog's when the write stalled before the reason was read.
    EXPECT_TRUE(reason.find("low on memory") != std::string::npos ||
                reason.find("the broker read nothing") != std::string::npos)
        << reason;
  }
  // Closing does not wait for the alarm either.
  stuck->publish_async(message(subject, big), [](status) {});
  const auto close_started = std::chrono::steady_clock::now();
  stuck.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - close_started, 4s);

  ASSERT_TRUE(own.ctl({"set_vm_memory_high_watermark", "0.4"}));
  EXPECT_TRUE(eventually([&] { return t->publish(message(subject, "after")).is_ok(); }, 20s));
  recorder got;
  auto sub = t->subscribe(subject, {.group = "g"}, got.acking());
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  EXPECT_TRUE(eventually([&] { return got.payloads().count("after") == 1 && got.payloads().count("before") == 1; }));
}

// --- interop with pika (a client we did not write) ---

bool have_pika() { return ::system("/usr/bin/python3 -c 'import pika' >/dev/null 2>&1") == 0; }

std::string pika_peer() {
  if (const char* p = std::getenv("FERRY_PIKA_PEER")) return p;
  return std::string(FERRY_SOURCE_DIR) + "/tests/rabbitmq/pika_peer.py";
}

TEST_F(RabbitMQ, PikaReadsWhatFerryPublished) {
  if (!have_pika()) GTEST_SKIP() << "python3-pika is not installed (make deps installs it)";
  const std::string subject = new_subject("to-pika");
  const std::string dir = test::make_temp_dir("ferry-pika-"), out = dir + "/pika.out";
  test::child_process pika;
  ASSERT_TRUE(pika.start(
      {"/usr/bin/python3", pika_peer(), "consume", std::to_string(server()->port()), "ferry", "rt.*.*.*", "2"}, out));
  ASSERT_TRUE(eventually([&] { return read_file(out).find("ready") != std::string::npos; })) << read_file(out);
  auto t = connect_or_die();
  message m(subject, std::string("binary\0payload", 14));
  m.id = "ferry-1";
  m.key = "customer-7";
  m.headers.set("Content-Type", "application/json").add("Multi", "1").add("Multi", "2");
  ASSERT_TRUE(t->publish(m).is_ok());
  ASSERT_TRUE(t->publish(message(subject, "second")).is_ok());
  ASSERT_TRUE(eventually([&] { return lines(read_file(out)).size() >= 3; })) << read_file(out);
  const auto j = nlohmann::json::parse(lines(read_file(out))[1]);
  EXPECT_EQ(j["routing_key"], subject);
  EXPECT_EQ(j["message_id"], "ferry-1");
  EXPECT_EQ(j["body"].get<std::string>(), std::string("binary\0payload", 14));
  EXPECT_EQ(j["headers"]["Content-Type"], "application/json");
  EXPECT_EQ(j["headers"]["Multi"], nlohmann::json::array({"1", "2"}));
  EXPECT_EQ(j["headers"]["Ferry-Key"], "customer-7");
}

TEST_F(RabbitMQ, FerryConsumesWhatPikaPublished) {
  if (!have_pika()) GTEST_SKIP() << "python3-pika is not installed (make deps installs it)";
  const std::string subject = new_subject("from-pika");
  auto t = connect_or_die();
  recorder got;
  auto sub = t->subscribe(subject, {.group = "g"}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  const std::string dir = test::make_temp_dir("ferry-pika-"), out = dir + "/pika.out";
  test::child_process pika;
  ASSERT_TRUE(pika.start(
      {"/usr/bin/python3", pika_peer(), "publish", std::to_string(server()->port()), "ferry", subject, "5"}, out));
  ASSERT_TRUE(eventually([&] { return got.size() >= 5; })) << read_file(out);
  std::map<std::string, message> by_id;
  for (const message& m : got.all()) by_id.emplace(m.id, m);
  ASSERT_TRUE(by_id.contains("pika-3")) << read_file(out);
  const message& m = by_id.at("pika-3");
  EXPECT_EQ(m.subject, subject);
  EXPECT_EQ(m.payload, "from pika 3");
  EXPECT_EQ(m.headers.value_or("Source", ""), "pika");
  EXPECT_EQ(m.headers.value_or("Seq", ""), "3");  // an AMQP integer, as text
  EXPECT_EQ(m.headers.all("Tags"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(m.delivery.delivery_count, 1u);
  EXPECT_EQ(m.delivery.transport, "rabbitmq");
}

// --- the edges ---

TEST_F(RabbitMQ, BadInputIsRefusedWithTheReason) {
  auto t = connect_or_die();
  for (const std::string& bad : std::vector<std::string>{"", "a..b", "a.#", "a.*", "a.>", std::string(300, 'x')}) {
    EXPECT_EQ(t->publish(message(bad, "x")).code(), status_code::invalid_argument) << bad;
  }
  for (const std::string& bad : std::vector<std::string>{"", "a..b", "a.#", "a.>.b", "a.b*", std::string(300, 'x')}) {
    EXPECT_EQ(t->subscribe(bad, {}, [](message) {}).status().code(), status_code::invalid_argument) << bad;
  }
  EXPECT_EQ(t->subscribe(std::string(200, 'x'), {.group = std::string(100, 'g')}, [](message) {}).status().code(),
            status_code::invalid_argument);
  message reserved(new_subject("x"), "x");
  reserved.headers.set("x-delivery-count", "1");
  EXPECT_EQ(t->publish(reserved).code(), status_code::invalid_argument);
  message long_id(new_subject("x"), "x");
  long_id.id = std::string(300, 'i');
  EXPECT_EQ(t->publish(long_id).code(), status_code::invalid_argument);
  // Each of these closed the channel or broke the connection, and was published again and again
  // until publish_timeout: RabbitMQ's sender-selected distribution headers, and headers that do
  // not fit one frame.
  for (const char* name : {"CC", "BCC"}) {
    message cc(new_subject("x"), "x");
    cc.headers.set(name, "other.queue");
    EXPECT_EQ(t->publish(cc).code(), status_code::invalid_argument) << name;
  }
  message wide(new_subject("x"), "x");
  for (int i = 0; i < 200; ++i) wide.headers.set("h" + std::to_string(i), std::string(1024, 'v'));
  const status too_wide = t->publish(wide);
  EXPECT_EQ(too_wide.code(), status_code::invalid_argument);
  EXPECT_NE(too_wide.message().find("frame"), std::string::npos) << too_wide.to_string();
  const std::string fine = new_subject("fine");
  auto bound = t->subscribe(fine, {}, [](message m) { m.ack(); });  // a queue takes it
  ASSERT_TRUE(bound.is_ok()) << bound.status().to_string();
  const auto sent_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(t->publish(message(fine, "fine")).is_ok()) << "the connection is still up";
  EXPECT_LT(std::chrono::steady_clock::now() - sent_at, 5s);

  EXPECT_EQ(connect(server()->address(), {.password = "wrong"}).status().code(), status_code::unauthenticated);
  EXPECT_EQ(connect(server()->address(), {.vhost = "no-such-vhost"}).status().code(), status_code::not_found);
  EXPECT_EQ(connect(server()->address(), {.exchange = ""}).status().code(), status_code::invalid_argument);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(connect("127.0.0.1:1", {.connect_timeout = 1s}).status().code(), status_code::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(connect("127.0.0.1:notaport").status().code(), status_code::invalid_argument);
}

TEST_F(RabbitMQ, UrlsConnectAndBadOnesSayWhatIsWrong) {
  const std::string hostport = server()->address();
  auto t = ferry::connect("amqp://guest:guest@" + hostport +
                          "/%2f?exchange=ferry-url&name=url-test&heartbeat=10s&max_pending=100");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ((*t)->name(), "rabbitmq");
  recorder got;
  const std::string subject = new_subject("url");
  auto sub = (*t)->subscribe(subject, {}, got.acking());
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE((*t)->publish(message(subject, "via url")).is_ok());
  EXPECT_TRUE(eventually([&] { return got.size() == 1; }));

  for (const std::string& bad :
       std::vector<std::string>{"amqp://" + hostport + "?unknown=1", "amqp://" + hostport + "?unroutable=maybe",
                                "amqp://" + hostport + "?publish_timeout=soon", "amqp://" + hostport + "?max_pending=0",
                                "amqp://a:1,b:2", "amqp://us%zzer@" + hostport}) {
    auto r = ferry::connect(bad);
    EXPECT_EQ(r.status().code(), status_code::invalid_argument) << bad << ": " << r.status().to_string();
  }
  EXPECT_EQ(ferry::connect("amqp://guest:nope@" + hostport).status().code(), status_code::unauthenticated);
}

}  // namespace
}  // namespace ferry::rabbitmq
