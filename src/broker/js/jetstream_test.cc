// JetStream as a library: streams, consumers and the API against a fake host and a fake clock
// (fake_host.h). Time moves only when a test moves it, so every deadline (ack wait, backoff,
// NAK delay, pull expiry, heartbeats, inactivity, max_age, the dedup window) is tested exactly,
// and the suite runs under ASan+UBSan with the other unit tests. The behaviour through real
// clients is tested in tests/differential, tests/interop and tests/crash.
#include "broker/js/jetstream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/base64.h"
#include "broker/js/jetstream_test_fixture.h"
#include "process.h"
#include "protocol/ack_subject.h"

namespace ferry::broker::js::unit {
namespace {

// ---- the API ----

TEST_F(JetStreamUnit, StreamApiCreatesListsAndRefusesWithNatsServersErrors) {
  json r = api("STREAM.CREATE.S", {{"name", "S"}, {"subjects", {"s.>"}}});
  EXPECT_EQ(r["type"], "io.nats.jetstream.api.v1.stream_create_response");
  EXPECT_EQ(r["config"]["name"], "S");
  EXPECT_EQ(r["state"]["messages"], 0);
  EXPECT_TRUE(r["did_create"].get<bool>());

  r = api("STREAM.CREATE.S", {{"name", "S"}, {"subjects", {"other.>"}}});
  EXPECT_EQ(r["error"]["err_code"], 10058) << r.dump();  // the name exists with another config
  r = api("STREAM.CREATE.T", {{"name", "U"}, {"subjects", {"t"}}});
  EXPECT_EQ(r["error"]["err_code"], 10056) << r.dump();  // subject and body name differ
  r = api("STREAM.CREATE.T", {{"name", "T"}, {"subjects", {"s.a"}}});
  EXPECT_EQ(r["error"]["err_code"], 10065) << r.dump();  // overlaps S's subjects
  r = api_text("STREAM.CREATE.T", "{not json");
  EXPECT_EQ(r["error"]["code"], 400);
  EXPECT_EQ(r["error"]["err_code"], 10025);
  r = api("STREAM.INFO.NOPE");
  EXPECT_EQ(r["error"]["code"], 404);
  EXPECT_EQ(r["error"]["err_code"], 10059);

  r = api("STREAM.NAMES");
  EXPECT_EQ(r["streams"], json::array({"S"}));
  EXPECT_EQ(r["total"], 1);
  EXPECT_TRUE(api("STREAM.NO.SUCH.THING").is_null()) << "unknown API subjects get no reply";

  r = api("INFO");
  EXPECT_EQ(r["streams"], 1);
  EXPECT_EQ(r["api"]["errors"], 5);  // the five refusals above; NO.SUCH.THING was not counted

  r = api_text("STREAM.DELETE.S", "");
  EXPECT_TRUE(r["success"].get<bool>()) << r.dump();
  EXPECT_EQ(api("STREAM.INFO.S")["error"]["err_code"], 10059);
}

TEST_F(JetStreamUnit, ConsumerApiChecksNamesAndStream) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  json r = api("CONSUMER.DURABLE.CREATE.S.C", {{"stream_name", "S"}, {"config", {{"durable_name", "D"}}}});
  EXPECT_EQ(r["error"]["err_code"], 10017) << r.dump();  // durable name mismatch
  r = api("CONSUMER.DURABLE.CREATE.NOPE.C", {{"stream_name", "NOPE"}, {"config", {{"durable_name", "C"}}}});
  EXPECT_EQ(r["error"]["err_code"], 10059) << r.dump();
  r = api("CONSUMER.DURABLE.CREATE.S.C", {{"stream_name", "OTHER"}, {"config", {{"durable_name", "C"}}}});
  EXPECT_EQ(r["error"]["err_code"], 10056) << r.dump();
  r = api("CONSUMER.DURABLE.CREATE.S.C",
          {{"stream_name", "S"}, {"config", {{"durable_name", "C"}, {"ack_policy", "explicit"}}}});
  EXPECT_EQ(r["type"], "io.nats.jetstream.api.v1.consumer_create_response");
  EXPECT_EQ(r["name"], "C");
  EXPECT_EQ(r["config"]["ack_policy"], "explicit");
  EXPECT_EQ(consumer_info("S", "NOPE")["error"]["err_code"], 10014);
  r = api("CONSUMER.NAMES.S");
  EXPECT_EQ(r["consumers"], json::array({"C"}));
  EXPECT_TRUE(api_text("CONSUMER.DELETE.S.C", "")["success"].get<bool>());
  EXPECT_EQ(consumer_info("S", "C")["error"]["err_code"], 10014);
}

TEST_F(JetStreamUnit, ApiRoutesPagesAndNamesAsNatsServer) {
  for (const char* n : {"A", "B", "C"}) create_stream({{"name", n}, {"subjects", {std::string(n) + ".>"}}});
  json r = api("STREAM.NAMES", {{"offset", 1}});
  EXPECT_EQ(r["total"], 3);
  EXPECT_EQ(r["offset"], 1);
  EXPECT_EQ(r["limit"], 1024);
  EXPECT_EQ(r["streams"], json::array({"B", "C"}));
  r = api("STREAM.NAMES", {{"offset", 7}});
  EXPECT_EQ(r["offset"], 3);
  EXPECT_TRUE(r["streams"].is_null()) << "Go marshals an empty list of names as null";
  r = api("STREAM.LIST", {{"subject", "B.x"}});
  ASSERT_EQ(r["streams"].size(), 1u);
  EXPECT_EQ(r["streams"][0]["config"]["name"], "B");
  EXPECT_EQ(r["limit"], 256);
  r = api("STREAM.NAMES", {{"offset", "one"}});
  EXPECT_EQ(r["error"]["err_code"], 10025);
  EXPECT_EQ(r["total"], 0);

  r = api("STREAM.CREATE.a/b", {{"name", "a/b"}, {"subjects", {"ab"}}});
  EXPECT_EQ(r["error"]["err_code"], 10128) << r.dump();
  r = api("CONSUMER.CREATE.A.c/d", {{"stream_name", "A"}, {"config", json::object()}});
  EXPECT_EQ(r["error"]["err_code"], 10127) << r.dump();
  r = api("CONSUMER.CREATE.A.E.A.x", {{"stream_name", "A"}, {"config", {{"filter_subject", "A.y"}}}});
  EXPECT_EQ(r["error"]["err_code"], 10131) << r.dump();  // the filter in the subject differs
  r = api("CONSUMER.CREATE.A.E.A.x", {{"stream_name", "A"}, {"config", {{"filter_subject", "A.x"}}}});
  EXPECT_EQ(r["name"], "E") << r.dump();
  r = api("CONSUMER.CREATE.A", {{"stream_name", "A"}, {"config", {{"durable_name", "D"}}}});
  EXPECT_EQ(r["error"]["err_code"], 10020) << r.dump();  // a durable name on the ephemeral subject
  r = api("CONSUMER.LIST.A", {{"offset", 5}});
  EXPECT_EQ(r["total"], 1);
  EXPECT_EQ(r["consumers"], json::array());
  // Subjects that are not endpoints (too short, too long, unknown) get no reply at all.
  for (const char* s : {"STREAM", "STREAM.INFO", "STREAM.INFO.A.B", "STREAM.MSG.GET", "CONSUMER.INFO.A",
                        "CONSUMER.DURABLE.CREATE.A", "CONSUMER.MSG.NEXT.A.E.x", "INFO.X"}) {
    EXPECT_TRUE(api(s).is_null()) << s;
  }
}

// ---- streams ----

TEST_F(JetStreamUnit, DuplicatesAreDroppedWithinTheWindowAndStoredAfterIt) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}, {"duplicate_window", 2 * s}});
  const std::string h = "NATS/1.0\r\nNats-Msg-Id: order-1\r\n\r\n";
  json r = publish("s.x", "a", h);
  EXPECT_EQ(r["seq"], 1);
  EXPECT_FALSE(r.contains("duplicate"));
  advance(1 * s);
  r = publish("s.x", "a", h);
  EXPECT_EQ(r["seq"], 1);
  EXPECT_TRUE(r["duplicate"].get<bool>());
  advance(1 * s);  // the window (2 s after the first publish) is over
  r = publish("s.x", "a", h);
  EXPECT_EQ(r["seq"], 2) << r.dump();
  EXPECT_FALSE(r.contains("duplicate"));
}

TEST_F(JetStreamUnit, MaxAgeRemovesMessagesByTheirTimestamps) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}, {"max_age", 10 * s}});
  publish_n(2);
  advance(5 * s);
  ASSERT_EQ(publish("s.x", "late")["seq"], 3);
  advance(5 * s);  // the first two are 10 s old
  json info = api("STREAM.INFO.S");
  EXPECT_EQ(info["state"]["messages"], 1);
  EXPECT_EQ(info["state"]["first_seq"], 3);
  advance(5 * s);
  EXPECT_EQ(api("STREAM.INFO.S")["state"]["messages"], 0);
}

TEST_F(JetStreamUnit, ExpectedLastSequenceIsChecked) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  publish_n(1);
  json r = publish("s.x", "b", "NATS/1.0\r\nNats-Expected-Last-Sequence: 5\r\n\r\n");
  EXPECT_EQ(r["error"]["err_code"], 10071) << r.dump();
  r = publish("s.x", "b", "NATS/1.0\r\nNats-Expected-Last-Sequence: 1\r\n\r\n");
  EXPECT_EQ(r["seq"], 2) << r.dump();
}

// ---- pull consumers: acks and redelivery ----

TEST_F(JetStreamUnit, UnackedMessageIsRedeliveredWhenItsAckWaitRunsOut) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"ack_wait", 2 * s}}));
  publish_n(3);
  auto got = messages(pull("C", {{"batch", 3}}));
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(stream_seq(got[i]), i + 1);
    EXPECT_EQ(deliveries(got[i]), 1u);
    EXPECT_EQ(got[i].data, "m" + std::to_string(i + 1));
  }
  ack(got[0]);
  ack(got[2]);
  const std::string waiting = pull("C", {{"batch", 1}, {"expires", 60 * s}});
  advance(2 * s - 1);
  EXPECT_TRUE(messages(waiting).empty()) << "redelivered before its ack wait";
  advance(1);
  got = messages(waiting);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(stream_seq(got[0]), 2u);
  EXPECT_EQ(deliveries(got[0]), 2u);
  json info = consumer_info("S", "C");
  EXPECT_EQ(info["num_ack_pending"], 1);
  EXPECT_EQ(info["num_redelivered"], 1);
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 1);
}

TEST_F(JetStreamUnit, AStepOfTheWallClockMovesNoAckDeadline) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"ack_wait", 30 * s}}));
  publish_n(1);
  ASSERT_EQ(messages(pull("C", {{"batch", 1}})).size(), 1u);
  const std::string waiting = pull("C", {{"batch", 1}, {"expires", 3600 * s}});
  clock_.step_wall(2 * 3600 * s);  // the system clock is set two hours ahead
  js_->tick();
  EXPECT_TRUE(messages(waiting).empty()) << "a wall-clock step redelivered at once";
  clock_.step_wall(-4 * 3600 * s);  // and then two hours behind
  advance(30 * s);
  EXPECT_EQ(messages(waiting).size(), 1u) << "a wall-clock step delayed the redelivery";
}

TEST_F(JetStreamUnit, BackoffSetsEachRedeliveryDelayAndMaxDeliverEndsThem) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"ack_wait", 1 * s}, {"backoff", {1 * s, 5 * s}}, {"max_deliver", 3}}));
  host_.listen("$JS.EVENT.ADVISORY.>");
  publish_n(1);
  const std::string inbox = pull("C", {{"batch", 10}, {"expires", 3600 * s}});
  ASSERT_EQ(messages(inbox).size(), 1u);
  advance(1 * s);  // backoff[0]
  auto got = messages(inbox);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(deliveries(got[0]), 2u);
  advance(4 * s);
  EXPECT_TRUE(messages(inbox).empty()) << "the second redelivery came before backoff[1]";
  advance(1 * s);  // backoff[1] = 5 s after the second delivery
  got = messages(inbox);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(deliveries(got[0]), 3u);
  advance(60 * s);
  EXPECT_TRUE(messages(inbox).empty()) << "delivered more than max_deliver times";
  const auto adv = host_.take("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C");
  ASSERT_EQ(adv.size(), 1u);
  const json a = json::parse(adv[0].data);
  EXPECT_EQ(a["stream_seq"], 1);
  EXPECT_EQ(a["deliveries"], 3);
}

TEST_F(JetStreamUnit, NakRedeliversAtOnceOrAfterItsDelay) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C"));
  publish_n(2);
  auto got = messages(pull("C", {{"batch", 2}}));
  ASSERT_EQ(got.size(), 2u);
  ack(got[0], "-NAK");
  ack(got[1], "-NAK {\"delay\":2000000000}");
  const std::string inbox = pull("C", {{"batch", 2}, {"expires", 60 * s}});
  auto again = messages(inbox);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(stream_seq(again[0]), 1u);
  EXPECT_EQ(deliveries(again[0]), 2u);
  advance(2 * s - 1);
  EXPECT_TRUE(messages(inbox).empty()) << "redelivered before the NAK's delay";
  advance(1);
  again = messages(inbox);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(stream_seq(again[0]), 2u);
}

TEST_F(JetStreamUnit, TermEndsRedeliveryAndProgressExtendsTheDeadline) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"ack_wait", 10 * s}}));
  host_.listen("$JS.EVENT.ADVISORY.>");
  publish_n(2);
  auto got = messages(pull("C", {{"batch", 2}}));
  ASSERT_EQ(got.size(), 2u);
  ack(got[0], "+TER");
  const std::string inbox = pull("C", {{"batch", 2}, {"expires", 3600 * s}});
  advance(8 * s);
  ack(got[1], "+WPI");  // still working: the ack wait starts again
  advance(8 * s);
  EXPECT_TRUE(messages(inbox).empty());
  advance(2 * s);
  got = messages(inbox);
  ASSERT_EQ(got.size(), 1u) << "only the message in progress comes again, not the terminated one";
  EXPECT_EQ(stream_seq(got[0]), 2u);
  EXPECT_EQ(host_.take("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.C").size(), 1u);
}

TEST_F(JetStreamUnit, AckAllAcknowledgesEverythingUpToTheMessage) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"ack_policy", "all"}}));
  publish_n(3);
  auto got = messages(pull("C", {{"batch", 3}}));
  ASSERT_EQ(got.size(), 3u);
  ack(got[1]);
  json info = consumer_info("S", "C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 2);
  EXPECT_EQ(info["num_ack_pending"], 1);
  advance(30 * s);
  got = messages(pull("C", {{"batch", 3}, {"no_wait", true}}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(stream_seq(got[0]), 3u);
}

TEST_F(JetStreamUnit, AckNoneKeepsNothingPending) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"ack_policy", "none"}}));
  publish_n(2);
  ASSERT_EQ(messages(pull("C", {{"batch", 2}})).size(), 2u);
  json info = consumer_info("S", "C");
  EXPECT_EQ(info["num_ack_pending"], 0);
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 2);
  const std::string inbox = pull("C", {{"batch", 1}, {"expires", 3600 * s}});
  advance(600 * s);
  EXPECT_TRUE(messages(inbox).empty());
}

TEST_F(JetStreamUnit, MaxAckPendingHoldsDeliveriesUntilAnAck) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"max_ack_pending", 2}}));
  publish_n(3);
  const std::string inbox = pull("C", {{"batch", 3}, {"expires", 60 * s}});
  auto got = messages(inbox);
  ASSERT_EQ(got.size(), 2u);
  ack(got[0]);
  got = messages(inbox);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(stream_seq(got[0]), 3u);
}

// ---- pull requests ----

TEST_F(JetStreamUnit, PullRequestsExpireWaitForMessagesAndEndWhenNoWait) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C"));
  EXPECT_EQ(statuses(pull("C", {{"batch", 1}, {"no_wait", true}})), std::vector<std::string>{"404 No Messages"});

  const std::string expiring = pull("C", {{"batch", 5}, {"expires", 1 * s}});
  advance(1 * s - 1);
  EXPECT_TRUE(host_.take(expiring).empty());
  advance(1);
  auto st = host_.take(expiring);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].status_code(), 408);
  EXPECT_EQ(st[0].header("Nats-Pending-Messages"), "5");

  const std::string waiting = pull("C", {{"batch", 2}, {"expires", 60 * s}});
  publish_n(1);
  auto got = messages(waiting);
  ASSERT_EQ(got.size(), 1u) << "a waiting request takes a message published after it";
  EXPECT_EQ(got[0].data, "m1");
}

TEST_F(JetStreamUnit, PullRequestHeartbeatsWhileIdle) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C"));
  const std::string inbox = pull("C", {{"batch", 1}, {"expires", 10 * s}, {"idle_heartbeat", 1 * s}});
  advance(1 * s - 1);
  EXPECT_TRUE(statuses(inbox).empty());
  advance(1);
  EXPECT_EQ(statuses(inbox), std::vector<std::string>{"100 Idle Heartbeat"});
  advance(1 * s);
  EXPECT_EQ(statuses(inbox), std::vector<std::string>{"100 Idle Heartbeat"});
}

TEST_F(JetStreamUnit, MaxWaitingAndAGoneRequesterAreHandled) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer("S", pull_consumer("C", {{"max_waiting", 1}}));
  const std::string first = pull("C", {{"batch", 1}, {"expires", 60 * s}});
  EXPECT_EQ(statuses(pull("C", {{"batch", 1}, {"expires", 60 * s}})),
            std::vector<std::string>{"409 Exceeded MaxWaiting"});
  // A request whose requester went away is dropped when a message comes, not served.
  host_.unlisten("_INBOX.>");
  host_.listen("_INBOX.keep.>");
  publish_n(1);
  EXPECT_TRUE(messages(first).empty());
  const std::string kept = "_INBOX.keep.1";
  host_.client_publish("$JS.API.CONSUMER.MSG.NEXT.S.C", json{{"batch", 1}}.dump(), kept);
  auto got = messages(kept);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "m1");
}

// ---- push consumers ----

TEST_F(JetStreamUnit, PushConsumerDeliversOnlyWithInterestAndHeartbeatsWhenIdle) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  create_consumer(
      "S",
      {{"durable_name", "P"}, {"deliver_subject", "push.out"}, {"ack_policy", "explicit"}, {"idle_heartbeat", 1 * s}});
  publish_n(2);
  EXPECT_TRUE(host_.take("push.out").empty()) << "delivered with nobody subscribed";
  host_.listen("push.out");
  advance(1);
  auto got = host_.take("push.out");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].data, "m1");
  EXPECT_EQ(got[1].data, "m2");
  advance(1 * s);
  got = host_.take("push.out");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status_code(), 100);
  EXPECT_EQ(got[0].header("Nats-Last-Consumer"), "2");
  EXPECT_EQ(got[0].header("Nats-Last-Stream"), "2");
}

TEST_F(JetStreamUnit, FlowControlStallsPushDeliveryUntilAnswered) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  host_.listen("push.out");
  create_consumer("S", {{"durable_name", "P"},
                        {"deliver_subject", "push.out"},
                        {"ack_policy", "none"},
                        {"flow_control", true},
                        {"idle_heartbeat", 5 * s}});
  const std::string kib100(100 * 1024, 'x');
  for (int i = 0; i < 30; ++i) ASSERT_EQ(publish("s.x", kib100)["seq"], i + 1);
  std::size_t data = 0;
  std::string fc_reply;
  for (const auto& m : host_.take("push.out")) {
    if (m.status_code() == 100) {
      EXPECT_EQ(fc_reply, "") << "a second flow-control request before the first was answered";
      fc_reply = m.reply;
    } else {
      ++data;
    }
  }
  ASSERT_FALSE(fc_reply.empty()) << "no flow-control request after " << data << " messages of 100 KiB";
  EXPECT_LT(data, 30u) << "delivery did not stall";
  EXPECT_GE(data, 20u) << "stalled before about 2 MiB";
  host_.client_publish(fc_reply, "");
  for (const auto& m : host_.take("push.out")) data += m.status_code() == 0 ? 1 : 0;
  EXPECT_EQ(data, 30u);
}

// ---- consumers' lifetime ----

TEST_F(JetStreamUnit, InactiveEphemeralConsumerIsRemoved) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}});
  json r = api("CONSUMER.CREATE.S.E", {{"stream_name", "S"}, {"config", {{"inactive_threshold", 5 * s}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  advance(4 * s);
  (void)pull("E", {{"batch", 1}, {"no_wait", true}});  // activity
  advance(4 * s);
  EXPECT_FALSE(consumer_info("S", "E").contains("error")) << "removed although active";
  advance(5 * s + 1);
  EXPECT_EQ(consumer_info("S", "E")["error"]["err_code"], 10014);
}

TEST_F(JetStreamUnit, DurableConsumerStateSurvivesARestart) {
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}, {"storage", "file"}});
  create_consumer("S", pull_consumer("C", {{"ack_wait", 5 * s}}));
  publish_n(3);
  auto got = messages(pull("C", {{"batch", 3}}));
  ASSERT_EQ(got.size(), 3u);
  ack(got[0]);
  ack(got[1]);
  restart();
  json info = consumer_info("S", "C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 2) << info.dump();
  EXPECT_EQ(info["num_ack_pending"], 1);
  const std::string inbox = pull("C", {{"batch", 3}, {"expires", 60 * s}});
  EXPECT_TRUE(messages(inbox).empty()) << "redelivered before its ack wait";
  advance(5 * s);
  got = messages(inbox);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(stream_seq(got[0]), 3u);
  EXPECT_EQ(deliveries(got[0]), 2u);
}

// A stream limited in bytes keeps about that much on disk: its segments are a quarter of the
// limit, so what the limit discards goes from the disk too (with one 64 MiB segment, all of it
// stayed until the segment filled).
TEST_F(JetStreamUnit, AStreamLimitedInBytesKeepsAboutThatMuchOnDisk) {
  constexpr std::int64_t limit = 256 << 10;
  create_stream({{"name", "S"}, {"subjects", {"s.>"}}, {"storage", "file"}, {"max_bytes", limit}});
  const std::string payload(1000, 'x');
  for (int i = 1; i <= 2000; ++i) ASSERT_EQ(publish("s.x", payload)["seq"], i);
  const json info = api("STREAM.INFO.S");
  EXPECT_LE(info["state"]["bytes"].get<std::int64_t>(), limit);
  EXPECT_EQ(info["state"]["last_seq"], 2000);
  std::uintmax_t on_disk = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_ + "/streams/S/msgs")) on_disk += f.file_size();
  EXPECT_LE(on_disk, static_cast<std::uintmax_t>(limit + limit / 2)) << "bytes in the stream's segment files";
  // And it reads back after a restart, the oldest kept message first.
  restart();
  EXPECT_EQ(api("STREAM.INFO.S")["state"]["first_seq"], info["state"]["first_seq"]);
}

}  // namespace
}  // namespace ferry::broker::js::unit
