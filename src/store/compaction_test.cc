// Compaction: a purge that leaves a segment at least half removed messages rewrites it with its
// live records (and the tombstones it holds for older segments), through a synced temporary file
// and a rename; what must hold is that every kept message reads back, before and after a reopen or
// a power loss, and that no removed one comes back.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "store/file_fault_test_util.h"

namespace ferry::store::testing {
namespace {

TEST(Compaction, APurgeThatKeepsPartOfTheOldestSegmentRewritesIt) {
  for (const sync_policy sync : {sync_policy::always, sync_policy::interval}) {
    SCOPED_TRACE(sync == sync_policy::always ? "sync always" : "sync interval");
    compactable c(sync);
    const std::string second = c.s->segment_files()[1];
    const std::uint64_t before = c.file_bytes(second);
    ASSERT_GT(before, 6000u);
    ASSERT_EQ(datas(*c.s).size(), 40u);
    // This thread's read-ahead block for the second segment now holds the old file from its first
    // record on, where the kept message will lie after the rewrite.
    ASSERT_TRUE(c.s->load_next(stream_seq{c.bases()[1]}, "").is_ok());

    const std::uint64_t first_kept = c.purge_to_one_kept();
    ASSERT_EQ(c.s->segment_files()[0], second) << "same name: the file was rewritten, not replaced";
    EXPECT_LT(c.file_bytes(second), 1200u) << "one message of ~1 KB left in it, was " << before;
    EXPECT_FALSE(std::filesystem::exists(c.dir.sub("s") + "/" + second + ".tmp"));
    // Read back through the same thread: a block of the old file must not answer for the new one.
    EXPECT_EQ(datas(*c.s), compactable::payloads_from(first_kept));
    EXPECT_EQ(c.s->state().first_seq.value, first_kept);
    // Appends, removals and an erase still find their records.
    EXPECT_EQ(c.put("after"), 41u);
    ASSERT_TRUE(c.s->remove(stream_seq{first_kept}, true).is_ok());
    ASSERT_TRUE(c.s->write().is_ok());

    auto again = c.reopen_posix();
    ASSERT_NE(again, nullptr);
    std::vector<std::string> want = compactable::payloads_from(first_kept + 1);
    want.push_back("after");
    EXPECT_EQ(datas(*again), want);
    EXPECT_EQ(again->state().first_seq.value, first_kept + 1);
    EXPECT_EQ(again->state().last_seq.value, 41u);
    EXPECT_TRUE(again->state().lost.empty());
  }
}

TEST(Compaction, AMostlyLiveSegmentIsLeftAlone) {
  compactable c(sync_policy::interval);
  const std::string first = c.s->segment_files()[0];
  const std::uint64_t before = c.file_bytes(first);
  purge_request r;
  r.up_to = stream_seq{3};  // two of its seven messages
  ASSERT_TRUE(c.s->purge(r).is_ok());
  EXPECT_EQ(c.file_bytes(first), before);
  EXPECT_EQ(datas(*c.s), compactable::payloads_from(3));
}

// The rewrite is synced before it takes the segment's name: a power loss right after the purge
// finds every kept message.
TEST(Compaction, APowerLossRightAfterItLosesNoKeptMessage) {
  compactable c(sync_policy::always);
  const std::uint64_t first_kept = c.purge_to_one_kept();
  c.fs->power_loss();
  auto again = c.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), compactable::payloads_from(first_kept));
  EXPECT_TRUE(again->state().lost.empty());
}

// A rewrite that fails (here its fsync) leaves the segment as it was and no temporary file; the
// purge itself succeeds.
TEST(Compaction, AFailedRewriteLeavesTheSegmentAsItWas) {
  compactable c(sync_policy::interval);
  const std::string second = c.s->segment_files()[1];
  const std::uint64_t before = c.file_bytes(second);
  c.fs->fail_syncs(EIO);
  const std::uint64_t first_kept = c.purge_to_one_kept();
  c.fs->heal();
  EXPECT_EQ(c.s->segment_files()[0], second);
  EXPECT_EQ(c.file_bytes(second), before);
  EXPECT_FALSE(std::filesystem::exists(c.dir.sub("s") + "/" + second + ".tmp"));
  EXPECT_EQ(datas(*c.s), compactable::payloads_from(first_kept));
  auto again = c.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), compactable::payloads_from(first_kept));
}

// A stream in one segment (the active one) gets its space back from a purge too, with messages
// appended but not yet written, and keeps its last sequence when that message was removed.
TEST(Compaction, TheOnlySegmentIsRewrittenTooAndKeepsTheLastSequence) {
  for (const sync_policy sync : {sync_policy::always, sync_policy::interval}) {
    SCOPED_TRACE(sync == sync_policy::always ? "sync always" : "sync interval");
    store_options o;
    o.sync = sync;  // the default segment of 64 MiB: everything in the active one
    faulty f(o);
    // 35 written, 5 still in the buffer (the purge writes them before the rewrite reads them).
    for (int i = 1; i <= 40; ++i) {
      f.put(compactable::payload(i));
      if (i == 35) {
        ASSERT_TRUE(f.s->write().is_ok());
      }
    }
    ASSERT_TRUE(f.s->remove(stream_seq{40}, true).is_ok());  // the last sequence, removed
    ASSERT_EQ(f.s->segment_files().size(), 1u);
    const std::string only = f.dir.sub("s") + "/" + f.s->segment_files()[0];
    purge_request keep3;
    keep3.keep = 3;
    ASSERT_TRUE(f.s->purge(keep3).is_ok());
    EXPECT_LT(std::filesystem::file_size(only), 3400u) << "three messages of ~1 KB left";
    std::vector<std::string> want = {compactable::payload(37), compactable::payload(38), compactable::payload(39)};
    EXPECT_EQ(datas(*f.s), want);

    // Reopened before any append: the removed last message's sequence is still the last one.
    auto again = f.reopen_posix();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(datas(*again), want);
    EXPECT_EQ(again->state().first_seq.value, 37u);
    EXPECT_EQ(again->state().last_seq.value, 40u);
    EXPECT_TRUE(again->state().lost.empty());
    auto next = again->append("orders.1", "", "after", 41'000);
    ASSERT_TRUE(next.is_ok());
    EXPECT_EQ(next->value, 41u);
    ASSERT_TRUE(again->write().is_ok());
    again.reset();
    store_options posix = o;
    posix.fs = nullptr;
    auto third = file_store::open(f.dir.sub("s"), posix);
    ASSERT_TRUE(third.is_ok()) << third.status().to_string();
    want.push_back("after");
    EXPECT_EQ(datas(**third), want);
    EXPECT_EQ((*third)->state().last_seq.value, 41u);
  }
}

// A filtered purge that hollows out a sealed segment in the middle of the stream rewrites it too,
// keeping the tombstones it holds for older segments: message 3 of the first segment was deleted
// while the second was active, so its tombstone lives in the second; without it in the rewrite, 3
// would come back. Checked after a clean reopen and after a power loss right after the purge (sync
// always: the rewrite and its name are synced before the purge returns).
TEST(Compaction, APurgeThatHollowsASealedSegmentRewritesItAndKeepsItsTombstonesForOlderOnes) {
  for (const bool power_loss : {false, true}) {
    SCOPED_TRACE(power_loss ? "power loss" : "reopened");
    faulty f(compactable::options(sync_policy::always));
    auto subject = [](std::uint64_t i) { return i >= 8 && i <= 12 ? "b" : "a"; };
    for (std::uint64_t i = 1; i <= 8; ++i) ASSERT_EQ(f.put(compactable::payload(i), subject(i)), i);
    ASSERT_EQ(f.s->segment_files().size(), 2u) << "7 messages a segment";
    ASSERT_TRUE(f.s->remove(stream_seq{3}, false).is_ok());  // its tombstone goes to the second
    for (std::uint64_t i = 9; i <= 20; ++i) ASSERT_EQ(f.put(compactable::payload(i), subject(i)), i);
    ASSERT_TRUE(f.s->write().is_ok());
    ASSERT_TRUE(flushed(*f.s).is_ok());
    const std::vector<std::string> files = f.s->segment_files();
    ASSERT_EQ(files.size(), 3u);
    const std::string second = f.dir.sub("s") + "/" + files[1];
    const std::uint64_t before = std::filesystem::file_size(second);
    purge_request only_b;
    only_b.filter = "b";
    ASSERT_EQ(f.s->purge(only_b).value(), 5u);
    EXPECT_EQ(f.s->segment_files(), files);
    EXPECT_LT(std::filesystem::file_size(second), before / 2) << "not rewritten";
    std::vector<std::string> want;
    for (std::uint64_t i = 1; i <= 20; ++i) {
      if (i != 3 && (i < 8 || i > 12)) want.push_back(compactable::payload(i));
    }
    EXPECT_EQ(datas(*f.s), want);
    if (power_loss) f.fs->power_loss();
    auto again = f.reopen_posix();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(datas(*again), want);
    EXPECT_EQ(again->state().last_seq.value, 20u);
    EXPECT_TRUE(again->state().lost.empty());
  }
}

// Removals other than a purge never rewrite a segment: a work queue's acks, interest retention and
// per-subject limits remove on the worker, inside an ack or a publish.
TEST(Compaction, RemovalsOtherThanAPurgeNeverRewrite) {
  compactable c(sync_policy::interval);
  const std::string second = c.dir.sub("s") + "/" + c.s->segment_files()[1];
  const std::uint64_t before = std::filesystem::file_size(second);
  for (std::uint64_t seq = 8; seq <= 13; ++seq) ASSERT_TRUE(c.s->remove(stream_seq{seq}, false).is_ok());
  EXPECT_EQ(std::filesystem::file_size(second), before);
}

}  // namespace
}  // namespace ferry::store::testing
