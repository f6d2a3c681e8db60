// JetStream on a misbehaving disk (store::testing::fault_fs): power losses, failed and held
// fsyncs. With sync: always nothing acknowledged or confirmed is lost, nothing is acknowledged or
// confirmed before it is on disk, and the disk never holds the worker.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/base64.h"
#include "broker/js/jetstream_test_fixture.h"

namespace ferry::broker::js::unit {
namespace {

// ---- the disk failing under JetStream (store::testing::fault_fs) ----

// With sync: always, the power goes after step `cut` of a load that publishes and acks every
// other delivery with a reply subject (the others are acked after the power went). Every publish
// acknowledged before it is there after a restart, every confirmed ack stays acknowledged (not
// redelivered), every other message comes again, and nothing sent after the power went is
// acknowledged or confirmed.
TEST_F(JetStreamUnit, APowerLossLosesNoAcknowledgedPublishAndNoConfirmedAck) {
  for (const int cut : {1, 2, 3, 6, 11, 20}) {
    SCOPED_TRACE("power lost after step " + std::to_string(cut));
    js_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto faults = start_on_faulty_disk();
    std::map<std::uint64_t, std::string> acknowledged;  // stream seq -> data
    std::set<std::uint64_t> confirmed;                  // acks confirmed
    std::vector<std::string> refused_acks;              // confirmation subjects of acks after it
    std::vector<sent_message> unacked;                  // delivered on even steps
    for (int step = 1; step <= cut + 3; ++step) {
      const bool dead = step > cut;
      if (step == cut + 1) faults->power_loss();
      const std::string data = "m" + std::to_string(step);
      const json ack_reply = publish_synced("s.x", data);
      ASSERT_TRUE(ack_reply.is_object()) << "every publish is answered";
      if (!ack_reply.contains("error")) {
        EXPECT_FALSE(dead) << "acknowledged after the power went: " << ack_reply.dump();
        acknowledged[ack_reply["seq"]] = data;
      }
      auto got = messages(pull("C", {{"batch", 1}, {"no_wait", true}}));
      if (dead && !unacked.empty()) {  // nothing new to deliver: ack one delivered before
        got.push_back(unacked.back());
        unacked.pop_back();
      }
      if (got.empty()) continue;
      if (!dead && step % 2 == 0) {
        unacked.push_back(got[0]);
        continue;
      }
      const std::string confirm = "_INBOX.ack." + std::to_string(++requests_);
      host_.client_publish(got[0].reply, "+ACK", confirm);
      if (dead) {
        refused_acks.push_back(confirm);
        continue;
      }
      // The confirmation follows the ack log's sync on the sync thread.
      ASSERT_EQ(wait_for(confirm).size(), 1u) << "an ack made before the power went is confirmed";
      confirmed.insert(stream_seq(got[0]));
    }
    // The sync thread completes in order: once this publish is answered (with an error: the
    // power is gone), every ack log sync asked for before it is over.
    EXPECT_TRUE(publish_synced("s.x", "last").contains("error"));
    for (const std::string& c : refused_acks) {
      EXPECT_TRUE(host_.take(c).empty()) << "an ack confirmed after the power went";
    }
    if (cut >= 2) {
      ASSERT_FALSE(refused_acks.empty());
    }
    ASSERT_FALSE(acknowledged.empty());
    ASSERT_FALSE(confirmed.empty());

    js_.reset();  // what it still tries to write fails: the power is gone
    fs_ = nullptr;
    sync_ = store::sync_policy::interval;
    start();
    for (const auto& [seq, data] : acknowledged) {
      const json m = api("STREAM.MSG.GET.S", {{"seq", seq}});
      ASSERT_TRUE(m.contains("message")) << "acknowledged publish " << seq << " lost: " << m.dump();
      EXPECT_EQ(base64_decode(m["message"]["data"].get<std::string>()), data);
    }
    advance(31 * s);  // past the ack wait: whatever was delivered and not acknowledged comes again
    std::set<std::uint64_t> again;
    for (const auto& m : messages(pull("C", {{"batch", 100}, {"no_wait", true}}))) again.insert(stream_seq(m));
    std::set<std::uint64_t> want;
    for (const auto& [seq, data] : acknowledged) {
      if (!confirmed.contains(seq)) want.insert(seq);
    }
    EXPECT_EQ(again, want);
  }
}

// A deleted stream or consumer stays deleted through a power loss: the removal of its directory is
// synced before the delete is answered (fault_fs brings back a tree whose parent was not synced),
// and a delete whose removal could not be made durable is answered with an error.
TEST_F(JetStreamUnit, ADeletedStreamOrConsumerStaysDeletedThroughAPowerLoss) {
  auto faults = start_on_faulty_disk();  // stream S with consumer C
  ASSERT_EQ(publish_synced("s.x", "m")["seq"], 1);
  create_consumer("S", pull_consumer("D"));
  create_consumer("S", pull_consumer("E"));
  for (const char* n : {"T", "U"}) {
    const std::string name(n), subject = name == "T" ? "t" : "u";
    create_stream({{"name", name}, {"subjects", {subject + ".>"}}, {"storage", "file"}});
    ASSERT_EQ(publish_synced(subject + ".x", "m")["seq"], 1);
  }
  ASSERT_TRUE(api_text("CONSUMER.DELETE.S.C", "")["success"].get<bool>());
  ASSERT_TRUE(api_text("STREAM.DELETE.T", "")["success"].get<bool>());
  faults->fail_syncs(EIO);
  json r = api_text("CONSUMER.DELETE.S.E", "");
  EXPECT_EQ(r["error"]["err_code"], 10077) << r.dump();
  r = api_text("STREAM.DELETE.U", "");
  EXPECT_EQ(r["error"]["err_code"], 10077) << r.dump();
  faults->heal();
  faults->power_loss();
  js_.reset();
  fs_ = nullptr;
  sync_ = store::sync_policy::interval;
  start();
  EXPECT_EQ(api("STREAM.INFO.T")["error"]["err_code"], 10059);
  EXPECT_EQ(consumer_info("S", "C")["error"]["err_code"], 10014);
  EXPECT_EQ(consumer_info("S", "D")["name"], "D");
  EXPECT_EQ(api("STREAM.INFO.S")["state"]["messages"], 1);
}

// An ack is confirmed only once the ack log is on disk: while syncs fail, no confirmation goes
// out (and no publish is acknowledged); once they work again, the held confirmations follow.
TEST_F(JetStreamUnit, AckConfirmationsWaitForTheAckLogToReachTheDisk) {
  auto faults = start_on_faulty_disk();
  for (int i = 1; i <= 2; ++i) ASSERT_EQ(publish_synced("s.x", "m")["seq"], i);
  auto got = messages(pull("C", {{"batch", 2}}));
  ASSERT_EQ(got.size(), 2u);

  faults->fail_syncs(EIO);
  host_.client_publish(got[0].reply, "+ACK", "_INBOX.confirm.1");
  const json refused = publish_synced("s.x", "refused");  // answered after the ack log's sync
  EXPECT_EQ(refused["error"]["err_code"], 10077) << refused.dump();
  EXPECT_TRUE(host_.take("_INBOX.confirm.1").empty()) << "confirmed although the ack log was not synced";

  // The next round writes the log again (the failed sync may have dropped its pages) and syncs.
  faults->heal();
  host_.client_publish(got[1].reply, "+ACK", "_INBOX.confirm.2");
  EXPECT_EQ(wait_for("_INBOX.confirm.1").size(), 1u);
  EXPECT_EQ(wait_for("_INBOX.confirm.2").size(), 1u);
  EXPECT_EQ(consumer_info("S", "C")["ack_floor"]["stream_seq"], 2);
}

// A failed fdatasync may lose what it could not write (Linux marks the pages clean), so a later
// successful sync proves nothing about those bytes: the ack log is written again from the last
// byte known durable before anything in it is confirmed. Without that rewrite the first ack would
// be confirmed and still come again after a power loss.
TEST_F(JetStreamUnit, AnAckLogThatFailedToSyncIsWrittenAgainBeforeItIsConfirmed) {
  auto faults = start_on_faulty_disk();
  for (int i = 1; i <= 2; ++i) ASSERT_EQ(publish_synced("s.x", "m")["seq"], i);
  auto got = messages(pull("C", {{"batch", 2}}));
  ASSERT_EQ(got.size(), 2u);

  faults->fail_syncs(EIO, /*drop=*/true);
  host_.client_publish(got[0].reply, "+ACK", "_INBOX.confirm.1");
  EXPECT_TRUE(publish_synced("s.x", "refused").contains("error"));  // answered after the ack log's sync
  EXPECT_TRUE(host_.take("_INBOX.confirm.1").empty());
  faults->heal();
  host_.client_publish(got[1].reply, "+ACK", "_INBOX.confirm.2");
  ASSERT_EQ(wait_for("_INBOX.confirm.1").size(), 1u);
  ASSERT_EQ(wait_for("_INBOX.confirm.2").size(), 1u);

  faults->power_loss();
  js_.reset();
  fs_ = nullptr;
  sync_ = store::sync_policy::interval;
  start();
  advance(31 * s);  // past the ack wait
  std::set<std::uint64_t> again;
  for (const auto& m : messages(pull("C", {{"batch", 10}, {"no_wait", true}}))) again.insert(stream_seq(m));
  EXPECT_FALSE(again.contains(1)) << "a confirmed ack was lost";
  EXPECT_FALSE(again.contains(2)) << "a confirmed ack was lost";
}

// With sync always the ack log is synced on the stream store's sync thread, in the same group
// commit as the segments: a slow disk holds the confirmation back, never the worker that handled
// the ack (and every other client of that worker with it).
TEST_F(JetStreamUnit, AckLogSyncsDoNotHoldTheWorker) {
  auto faults = start_on_faulty_disk();
  ASSERT_EQ(publish_synced("s.x", "m")["seq"], 1);
  auto got = messages(pull("C", {{"batch", 1}}));
  ASSERT_EQ(got.size(), 1u);

  faults->hold_syncs();
  auto ack = std::async(std::launch::async, [&] { host_.client_publish(got[0].reply, "+ACK", "_INBOX.confirm.1"); });
  const bool returned = ack.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  EXPECT_TRUE(host_.take("_INBOX.confirm.1").empty()) << "confirmed before the ack log was synced";
  faults->release_syncs();
  ack.wait();
  EXPECT_TRUE(returned) << "handling the ack waited for the disk";
  EXPECT_EQ(wait_for("_INBOX.confirm.1").size(), 1u);
  EXPECT_EQ(consumer_info("S", "C")["ack_floor"]["stream_seq"], 1);
}

}  // namespace
}  // namespace ferry::broker::js::unit
