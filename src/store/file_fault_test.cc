// The file store on a misbehaving disk (fault_fs): a failed or torn write, a full disk, a failed
// fsync and a power loss. What must hold: a message whose bytes did not reach the kernel is never
// acknowledged nor readable, the store keeps working once the disk does, a purge gives a full
// disk its room back, and with sync always nothing acknowledged is lost to a power loss.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "store/fault_fs.h"
#include "store/file_fault_test_util.h"
#include "store/record.h"
#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

class FailedWrite : public ::testing::TestWithParam<int> {};

TEST_P(FailedWrite, DiscardsTheUnwrittenMessagesAndTheirSequencesGoToTheNextOnes) {
  faulty f;
  f.put("a");
  f.put("b", "orders.2");
  ASSERT_TRUE(f.s->write().is_ok());
  f.fs->fail_writes(GetParam());
  EXPECT_EQ(f.put("c", "orders.3"), 3u);
  EXPECT_EQ(f.put("d"), 4u);
  const status w = f.s->write();
  EXPECT_EQ(w.code(), GetParam() == EIO ? status_code::io_error : status_code::resource_exhausted) << w.to_string();
  // Not readable, not counted, and the subjects they created are gone.
  const store_state st = f.s->state();
  EXPECT_EQ(st.msgs, 2u);
  EXPECT_EQ(st.last_seq, stream_seq{2});
  EXPECT_EQ(st.last_ts_ns, 2000);
  EXPECT_EQ(st.num_subjects, 2u);
  EXPECT_EQ(f.s->load(stream_seq{3}).status().code(), status_code::not_found);
  EXPECT_EQ(f.s->last_seq_of("orders.1"), 1u);
  EXPECT_EQ(f.s->load_last("orders.3").status().code(), status_code::not_found);
  // flush_then reports the failure too (and discards the same way).
  f.put("e");
  status flushed;
  f.s->flush_then([&](status s) { flushed = std::move(s); });
  EXPECT_FALSE(flushed.is_ok());
  EXPECT_EQ(f.s->state().last_seq, stream_seq{2});

  f.fs->heal();
  EXPECT_EQ(f.put("f"), 3u);
  ASSERT_TRUE(f.s->write().is_ok());
  EXPECT_EQ(datas(*f.s), (std::vector<std::string>{"a", "b", "f"}));
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), (std::vector<std::string>{"a", "b", "f"}));
  EXPECT_EQ(again->state().last_seq, stream_seq{3});
  EXPECT_TRUE(again->state().lost.empty());
}

INSTANTIATE_TEST_SUITE_P(Errno, FailedWrite, ::testing::Values(ENOSPC, EIO, EDQUOT),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == ENOSPC ? "ENOSPC" : i.param == EIO ? "EIO" : "EDQUOT");
                         });

// Removals made while the disk failed stay done and reach the disk with the next write.
TEST(FileFault, RemovalsSurviveAFailedWrite) {
  faulty f;
  for (int i = 0; i < 5; ++i) f.put("m" + std::to_string(i));
  ASSERT_TRUE(f.s->write().is_ok());
  f.fs->fail_writes(EIO);
  EXPECT_FALSE(f.s->remove(stream_seq{3}, false).is_ok() && f.s->write().is_ok());
  f.put("new");
  EXPECT_FALSE(f.s->write().is_ok());
  EXPECT_EQ(f.s->load(stream_seq{3}).status().code(), status_code::not_found);
  f.fs->heal();
  ASSERT_TRUE(f.s->write().is_ok());
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), (std::vector<std::string>{"m0", "m1", "m3", "m4"}));
}

// A write torn at every byte of the buffer, then the process dies before it can cut the torn
// part off: the next open finds what was written before, plus each unwritten message whose
// record happened to reach the file whole (never acknowledged, never shown: the publisher's
// retry with a message id is what makes that harmless), and nothing damaged.
TEST(FileFault, WriteTornAtAnyByteThenCrashLosesOnlyTheUnwritten) {
  std::size_t buffer = 0;
  {
    // How long the buffer of the two unwritten messages is.
    faulty probe;
    probe.put("first");
    probe.put("second");
    ASSERT_TRUE(probe.s->write().is_ok());
    const std::uint64_t before = probe.fs->used();
    probe.put("third-message");
    probe.put("fourth-message", "orders.4");
    ASSERT_TRUE(probe.s->write().is_ok());
    buffer = static_cast<std::size_t>(probe.fs->used() - before);
  }
  const std::size_t third = record::message_size(std::string_view("orders.1").size(), 0, 13);
  ASSERT_GT(buffer, third);
  for (std::size_t keep = 0; keep < buffer; ++keep) {
    SCOPED_TRACE("torn after " + std::to_string(keep) + " of " + std::to_string(buffer) + " bytes");
    faulty f;
    f.put("first");
    f.put("second");
    ASSERT_TRUE(f.s->write().is_ok());
    f.put("third-message");
    f.put("fourth-message", "orders.4");
    f.fs->fail_writes(EIO, keep, /*then_die=*/true);
    EXPECT_FALSE(f.s->write().is_ok());
    EXPECT_EQ(f.s->state().last_seq, stream_seq{2});
    auto again = f.reopen_posix();
    ASSERT_NE(again, nullptr);
    std::vector<std::string> want{"first", "second"};
    if (keep >= third) want.emplace_back("third-message");
    EXPECT_EQ(datas(*again), want);
    EXPECT_EQ(again->state().last_seq.value, want.size());
    EXPECT_TRUE(again->state().lost.empty());
    EXPECT_EQ(again->append("orders.1", "", "after", 9).value().value, want.size() + 1);
  }
}

TEST(FileFault, FailedFsyncFailsTheFlushAndTheNextOneWorks) {
  store_options o;
  o.sync = sync_policy::always;
  faulty f(o);
  f.put("a");
  f.fs->fail_syncs(EIO);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<status> got;
  auto wait_for = [&](std::size_t n) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, std::chrono::seconds(10), [&] { return got.size() >= n; });
  };
  auto done = [&](status s) {
    std::lock_guard lk(mu);
    got.push_back(std::move(s));
    cv.notify_all();
  };
  f.s->flush_then(done);
  ASSERT_TRUE(wait_for(1));
  EXPECT_EQ(got[0].code(), status_code::io_error) << got[0].to_string();
  f.fs->heal();
  f.put("b");
  f.s->flush_then(done);
  ASSERT_TRUE(wait_for(2));
  EXPECT_TRUE(got[1].is_ok()) << got[1].to_string();
}

// A disk that fills up: appends are refused once a write does not fit, nothing refused is kept,
// and purging the stream gives the room back, with or without many segments.
class FullDisk : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(FullDisk, RefusesWhatDoesNotFitAndAPurgeMakesRoom) {
  store_options o;
  o.segment_bytes = GetParam();
  faulty f(o);
  f.fs->set_capacity(64 << 10);
  const std::string payload(1000, 'x');
  std::uint64_t stored = 0;
  status w;
  for (int i = 0; i < 200; ++i) {
    f.put(payload + std::to_string(i));
    w = f.s->write();
    if (!w.is_ok()) break;
    ++stored;
  }
  ASSERT_EQ(w.code(), status_code::resource_exhausted) << w.to_string();
  ASSERT_GT(stored, 30u);
  EXPECT_EQ(f.s->state().msgs, stored);
  EXPECT_EQ(f.s->state().last_seq.value, stored);
  EXPECT_LE(f.fs->used(), 64u << 10);
  // Still full: the next one is refused too.
  f.put(payload);
  EXPECT_EQ(f.s->write().code(), status_code::resource_exhausted);

  auto purged = f.s->purge({});
  ASSERT_TRUE(purged.is_ok()) << purged.status().to_string();
  EXPECT_EQ(*purged, stored);
  EXPECT_LT(f.fs->used(), 1024u);
  EXPECT_EQ(f.s->segment_files().size(), 1u);
  EXPECT_EQ(f.put("after the purge"), stored + 1);  // sequences never go backwards
  ASSERT_TRUE(f.s->write().is_ok());
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), (std::vector<std::string>{"after the purge"}));
  EXPECT_EQ(again->state().first_seq.value, stored + 1);
  EXPECT_EQ(again->state().last_seq.value, stored + 1);
}

// A purge that keeps the newest messages on a full disk: the segments it empties go, so there is
// room again for its purge floor and for new messages (nats-server frees the blocks too).
TEST(FullDiskPartialPurge, FreesTheSegmentsItEmpties) {
  for (const sync_policy sync : {sync_policy::always, sync_policy::interval}) {
    SCOPED_TRACE(sync == sync_policy::always ? "sync always" : "sync interval");
    store_options o;
    o.segment_bytes = 8 << 10;
    o.sync = sync;
    faulty f(o);
    f.fs->set_capacity(64 << 10);
    const std::string payload(1000, 'x');
    std::uint64_t stored = 0;
    for (int i = 0; i < 200; ++i) {
      f.put(payload + std::to_string(i));
      if (!f.s->write().is_ok()) break;
      ++stored;
    }
    ASSERT_GT(stored, 30u);
    f.put(payload);
    ASSERT_EQ(f.s->write().code(), status_code::resource_exhausted);
    const std::uint64_t full = f.fs->used();

    purge_request keep3;
    keep3.keep = 3;
    auto purged = f.s->purge(keep3);
    ASSERT_TRUE(purged.is_ok()) << purged.status().to_string();
    EXPECT_EQ(*purged, stored - 3);
    EXPECT_LT(f.fs->used(), full / 2);
    const std::uint64_t after = f.put("after the purge");
    EXPECT_EQ(after, stored + 1);
    ASSERT_TRUE(f.s->write().is_ok());
    auto again = f.reopen_posix();
    ASSERT_NE(again, nullptr);
    const std::vector<std::string> got = datas(*again);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0], payload + std::to_string(stored - 3));
    EXPECT_EQ(got[3], "after the purge");
    EXPECT_EQ(again->state().first_seq.value, stored - 2);
    EXPECT_EQ(again->state().last_seq.value, stored + 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Segments, FullDisk, ::testing::Values(64ull << 20, 8ull << 10),
                         [](const ::testing::TestParamInfo<std::uint64_t>& i) {
                           return i.param > (1u << 20) ? std::string("OneSegment") : std::string("SmallSegments");
                         });

// Lets `left` operations through, then the process dies: nothing more reaches the disk.
class dying_fs final : public file_system {
 public:
  explicit dying_fs(std::shared_ptr<fault_fs> inner) : inner_(std::move(inner)) {}
  void die_after(int ops) { left_ = ops; }
  result<unique_fd> create(const std::string& p, int flags) override {
    FERRY_RETURN_IF_ERROR(gate(p));
    return inner_->create(p, flags);
  }
  status write_at(int fd, std::string_view d, std::uint64_t off, const std::string& n) override {
    FERRY_RETURN_IF_ERROR(gate(n));
    return inner_->write_at(fd, d, off, n);
  }
  status sync(int fd, bool dir, const std::string& n) override {
    FERRY_RETURN_IF_ERROR(gate(n));
    return inner_->sync(fd, dir, n);
  }
  status truncate(int fd, std::uint64_t size, const std::string& n) override {
    FERRY_RETURN_IF_ERROR(gate(n));
    return inner_->truncate(fd, size, n);
  }
  status remove(const std::string& p) override {
    FERRY_RETURN_IF_ERROR(gate(p));
    return inner_->remove(p);
  }
  status rename(const std::string& from, const std::string& to) override {
    FERRY_RETURN_IF_ERROR(gate(from));
    return inner_->rename(from, to);
  }

 private:
  status gate(const std::string& name) {
    if (left_-- > 0) return status::ok();
    inner_->power_loss();
    return errno_status("op " + name, EIO);
  }
  std::shared_ptr<fault_fs> inner_;
  std::atomic<int> left_{1 << 30};
};

// A purge of many segments interrupted after each of its steps (the new segment, the directory
// sync, each deletion, the write, the syncs): whatever is left opens, holds a suffix of the
// stream, and the last sequence never goes backwards.
TEST(FileFault, PurgeInterruptedAtEachStepKeepsTheLastSequence) {
  for (int steps = 0; steps < 11; ++steps) {
    SCOPED_TRACE("dies after " + std::to_string(steps) + " operations of the purge");
    temp_dir dir;
    auto fs = std::make_shared<fault_fs>();
    auto dying = std::make_shared<dying_fs>(fs);
    store_options o;
    o.segment_bytes = 2048;
    o.sync = sync_policy::always;
    o.fs = dying;
    std::unique_ptr<file_store> s = std::move(file_store::open(dir.sub("s"), o).value());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->append("k", "", std::string(600, 'a' + i), i + 1).is_ok());
    std::promise<status> synced;
    s->flush_then([&](status st) { synced.set_value(std::move(st)); });
    ASSERT_TRUE(synced.get_future().get().is_ok());
    ASSERT_GT(s->segment_files().size(), 2u);
    dying->die_after(steps);
    (void)s->purge({});
    (void)s->close();
    s.reset();
    store_options posix = o;
    posix.fs = nullptr;
    auto again = file_store::open(dir.sub("s"), posix);
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    const store_state st = (*again)->state();
    EXPECT_EQ(st.last_seq.value, 10u);
    EXPECT_EQ(st.first_seq.value + st.msgs - 1, 10u)
        << "not a suffix: first " << st.first_seq.value << ", " << st.msgs << " messages";
    EXPECT_TRUE(st.lost.empty());
    EXPECT_EQ((*again)->append("k", "", "next", 99).value(), stream_seq{11});
  }
}

// Sync always under load from several publishers, and the power goes at a random moment:
// every acknowledged message is there, whole, after the restart, and no sequence is reused.
TEST(FileFault, PowerLossUnderLoadLosesNothingAcknowledged) {
  std::mt19937 rng(20261204);
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    store_options o;
    o.sync = sync_policy::always;
    o.segment_bytes = 16 << 10;  // rotations and segment deletions under way too
    o.lim.max_msgs = 400;        // old messages go while new ones come
    faulty f(o);
    std::mutex stream_mu;  // the stream layer's lock
    std::mutex acked_mu;
    std::map<std::uint64_t, std::string> acked;
    std::atomic<bool> stop{false};
    std::vector<std::thread> publishers;
    for (int t = 0; t < 3; ++t) {
      publishers.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) {
          const std::string data = "p" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 50, '.');
          std::uint64_t seq = 0;
          auto done = std::make_shared<std::promise<status>>();
          {
            std::lock_guard lk(stream_mu);
            auto r = f.s->append("k." + std::to_string(i % 5), "", data, i + 1);
            if (!r.is_ok()) return;
            seq = r->value;
            f.s->flush_then([done](status s) { done->set_value(std::move(s)); });
          }
          auto fut = done->get_future();
          if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready || !fut.get().is_ok()) return;
          std::lock_guard lk(acked_mu);
          acked[seq] = data;
        }
      });
    }
    // The power goes at a random moment once the load is under way (a loaded machine may take a
    // while to acknowledge the first ones).
    for (int waited = 0; waited < 10000; ++waited) {
      {
        std::lock_guard lk(acked_mu);
        if (acked.size() >= 10) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30000));
    f.fs->power_loss();
    stop = true;
    for (auto& t : publishers) t.join();
    {
      std::lock_guard lk(stream_mu);
      (void)f.s->close();  // fails: the disk is gone
    }
    auto again = f.reopen_posix();
    ASSERT_NE(again, nullptr);
    ASSERT_FALSE(acked.empty());
    EXPECT_TRUE(again->state().lost.empty());
    const std::uint64_t max_acked = acked.rbegin()->first;
    EXPECT_GE(again->state().last_seq.value, max_acked);
    for (const auto& [seq, data] : acked) {
      if (seq + 400 <= max_acked) continue;  // max_msgs removed it
      auto m = again->load(stream_seq{seq});
      ASSERT_TRUE(m.is_ok()) << "acknowledged " << seq << ": " << m.status().to_string();
      EXPECT_EQ(m->data, data);
    }
    auto next = again->append("k.0", "", "after", 1);
    ASSERT_TRUE(next.is_ok());
    EXPECT_GT(next->value, max_acked);
  }
}

// A file kept beside the store (a consumer's ack log) synced with the store's own under sync
// always: `done` runs after its fdatasync (what it wrote survives a power loss), and the segments
// written so far are synced in the same round; a failed sync reaches `done`; a closed store refuses.
TEST(FileFault, SideFilesAreSyncedWithTheSegments) {
  store_options o;
  o.sync = sync_policy::always;
  faulty f(o);
  auto side = side_file(f);
  const std::string& path = side->name;
  auto sync_side = [&] { return side_synced(*f.s, side); };

  ASSERT_TRUE(f.fs->write_at(side->fd.get(), "first", 0, path).is_ok());
  f.put("m1");
  ASSERT_TRUE(f.s->write().is_ok());  // written, not flushed: only the side file's sync covers it
  ASSERT_TRUE(sync_side().is_ok());

  ASSERT_TRUE(f.fs->write_at(side->fd.get(), "second", 5, path).is_ok());
  f.fs->fail_syncs(EIO);
  EXPECT_FALSE(sync_side().is_ok());
  f.fs->heal();

  ASSERT_TRUE(f.fs->write_at(side->fd.get(), "third", 11, path).is_ok());  // not synced
  f.fs->power_loss();
  auto left = read_file(path);
  ASSERT_TRUE(left.is_ok());
  EXPECT_EQ(*left, "first") << "what the successful sync covered, and nothing after it";
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), std::vector<std::string>{"m1"}) << "the segment was synced with it";

  faulty closed(o);
  ASSERT_TRUE(closed.s->close().is_ok());
  std::promise<status> refused;
  closed.s->sync_file_then(side, [&](status st) { refused.set_value(std::move(st)); });
  EXPECT_EQ(refused.get_future().get().code(), status_code::failed_precondition);
}

// With sync interval a side file is not waited for (`done` at once) but is synced with the
// segments: at the next interval, or at the latest when the store closes.
TEST(FileFault, SideFilesAreSyncedAtTheIntervalOrOnClose) {
  faulty f;  // sync interval, two minutes: only close() syncs within this test
  auto side = side_file(f);
  const std::string& path = side->name;
  ASSERT_TRUE(f.fs->write_at(side->fd.get(), "acks", 0, path).is_ok());
  const std::uint64_t syncs = f.fs->syncs();
  bool done = false;
  f.s->sync_file_then(side, [&](const status& st) { done = st.is_ok(); });
  EXPECT_TRUE(done) << "nothing to wait for under sync interval";
  EXPECT_EQ(f.fs->syncs(), syncs) << "not synced on the caller's thread";
  ASSERT_TRUE(f.s->close().is_ok());
  f.fs->power_loss();
  auto left = read_file(path);
  ASSERT_TRUE(left.is_ok());
  EXPECT_EQ(*left, "acks") << "synced when the store closed";
}

// A purge that was answered stays done: under sync always through a power loss, under sync
// interval through a killed process (what was written survives it; here nothing is lost but the
// buffer), whatever its shape.
TEST(FileFault, AnAnsweredPurgeDoesNotComeUndone) {
  struct shape {
    const char* name;
    purge_request req;
    std::vector<std::uint64_t> left;  // of 1..12 on subjects a, b, a, b...
  };
  purge_request all, keep2, up_to5, only_a, keep1_b;
  keep2.keep = 2;
  up_to5.up_to = stream_seq{5};
  only_a.filter = "a";
  keep1_b.filter = "b";
  keep1_b.keep = 1;
  const std::vector<shape> shapes = {{"all", all, {}},
                                     {"keep 2", keep2, {11, 12}},
                                     {"up to 5", up_to5, {5, 6, 7, 8, 9, 10, 11, 12}},
                                     {"subject a", only_a, {2, 4, 6, 8, 10, 12}},
                                     {"keep 1 of b", keep1_b, {1, 3, 5, 7, 9, 11, 12}}};
  for (const sync_policy sync : {sync_policy::always, sync_policy::interval}) {
    for (const shape& sh : shapes) {
      SCOPED_TRACE(std::string(sh.name) + (sync == sync_policy::always ? ", sync always" : ", sync interval"));
      store_options o;
      o.sync = sync;
      o.segment_bytes = 200;  // a few messages per segment
      faulty f(o);
      for (int i = 1; i <= 12; ++i) f.put("m" + std::to_string(i), i % 2 == 1 ? "a" : "b");
      ASSERT_TRUE(f.s->write().is_ok());
      std::promise<status> synced;
      f.s->flush_then([&](status st) { synced.set_value(std::move(st)); });
      ASSERT_TRUE(synced.get_future().get().is_ok());
      ASSERT_TRUE(f.s->purge(sh.req).is_ok());
      if (sync == sync_policy::always) {
        f.fs->power_loss();
      } else {
        f.fs->fail_writes(EIO, 0, true);  // killed: nothing more reaches the files
      }
      f.s.reset();
      store_options posix = o;
      posix.fs = nullptr;
      auto again = file_store::open(f.dir.sub("s"), posix);
      ASSERT_TRUE(again.is_ok()) << again.status().to_string();
      std::vector<std::uint64_t> left;
      for (const stored_message& m : take_snapshot(**again).messages) left.push_back(m.seq.value);
      EXPECT_EQ(left, sh.left);
      EXPECT_EQ((*again)->state().last_seq.value, 12u);
    }
  }
}

// Under sync always a purge makes its own fdatasync, except inside a publish (a rollup) whose flush
// follows: that one leaves it to the flush rather than block the caller's thread.
TEST(FileFault, APurgeWhoseFlushFollowsLeavesTheSyncToIt) {
  store_options o;
  o.sync = sync_policy::always;
  faulty f(o);
  for (int i = 1; i <= 12; ++i) f.put("m" + std::to_string(i), i % 4 == 0 ? "b" : "a");
  ASSERT_TRUE(f.s->write().is_ok());
  purge_request one_b;
  one_b.filter = "b";
  one_b.up_to = stream_seq{5};  // message 4 alone: a tombstone, no rewrite
  one_b.flush_follows = true;
  std::uint64_t syncs = f.fs->syncs();
  ASSERT_EQ(*f.s->purge(one_b), 1u);
  EXPECT_EQ(f.fs->syncs(), syncs);
  purge_request next_b = one_b;
  next_b.up_to = stream_seq{9};
  next_b.flush_follows = false;
  syncs = f.fs->syncs();
  ASSERT_EQ(*f.s->purge(next_b), 1u);
  EXPECT_EQ(f.fs->syncs(), syncs + 1);
}

// Under sync always a failed fdatasync of a segment is not forgotten. Linux may drop the pages it
// could not write and marks them clean, so a later sync succeeds without them. A purge that met
// the failure on its own thread used to leave the message written before it to the next group
// commit, which then acknowledged it; a power loss lost it. Now every later flush of that segment
// fails, and the store appends to a new segment, whose flushes succeed.
TEST(FileFault, AFailedSegmentSyncFailsEveryLaterFlushOfIt) {
  store_options o;
  o.sync = sync_policy::always;
  faulty f(o);
  f.put("a");
  ASSERT_TRUE(flushed(*f.s).is_ok());
  f.put("b");
  ASSERT_TRUE(f.s->write().is_ok());  // in the kernel; its flush is still to come
  f.fs->fail_syncs(EIO, /*drop=*/true);
  purge_request first;
  first.up_to = stream_seq{2};  // message 1
  EXPECT_FALSE(f.s->purge(first).is_ok());
  f.fs->heal();
  EXPECT_FALSE(flushed(*f.s).is_ok()) << "message 2 acknowledged after its pages may have been dropped";
  const std::size_t segments = f.s->segment_files().size();
  f.put("c");
  EXPECT_TRUE(flushed(*f.s).is_ok());
  EXPECT_EQ(f.s->segment_files().size(), segments + 1) << "the next message goes to a new segment";
  f.fs->power_loss();
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  auto c = again->load(stream_seq{3});
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->data, "c");
}

// A flush fails if a sync round that had its bytes failed, not only if its own round fails. Here
// b is written, a side file's sync (another caller) starts a round that takes b's segment and
// fails, and a second round of that caller succeeds before b's flush asks: no round from then on
// has anything of b's to sync, yet b's flush must fail. Before, it was acknowledged (the
// power-loss test above met this now and then, with the flush queued while the failing round ran).
// The store carries on in a new segment afterwards.
TEST(FileFault, AFlushFailsIfTheRoundThatTookItsBytesFailed) {
  store_options o;
  o.sync = sync_policy::always;
  faulty f(o);
  f.put("a");
  ASSERT_TRUE(flushed(*f.s).is_ok());
  auto side = side_file(f);
  f.put("b");
  ASSERT_TRUE(f.s->write().is_ok());  // in the kernel, its segment marked dirty
  f.fs->fail_syncs(EIO);
  EXPECT_FALSE(side_synced(*f.s, side).is_ok());  // the round with b's segment
  f.fs->heal();
  EXPECT_TRUE(side_synced(*f.s, side).is_ok());  // a later round: nothing of b's in it
  EXPECT_EQ(flushed(*f.s).code(), status_code::io_error) << "b acknowledged, yet the only sync that had it failed";
  f.put("c");
  EXPECT_TRUE(flushed(*f.s).is_ok()) << "a later message in a new segment is not held to that failure";
}

// A purge that empties the active segment starts a new one and deletes the old: under sync always
// both names are durable before it answers. Else a power loss brings the old segment back with its
// messages, without the new one whose records remove those in older segments.
TEST(FileFault, APurgeThatReplacesTheActiveSegmentMakesItsNamesDurable) {
  store_options o;
  o.sync = sync_policy::always;
  o.segment_bytes = 200;  // a few messages per segment
  faulty f(o);
  std::uint64_t as = 0;
  for (bool b = false;; b = !b) {  // a, b, a, b... until two segments hold some
    f.put(b ? "b" : "a", b ? "b" : "a");
    as += b ? 0 : 1;
    if (f.s->segment_files().size() >= 3) break;
  }
  // Then b's only, into a segment of their own.
  const std::size_t before = f.s->segment_files().size();
  while (f.s->segment_files().size() == before) f.put("b", "b");
  f.put("b", "b");
  ASSERT_TRUE(flushed(*f.s).is_ok());
  const std::uint64_t last = f.s->state().last_seq.value;
  const std::vector<std::string> files = f.s->segment_files();
  purge_request only_b;
  only_b.filter = "b";
  ASSERT_TRUE(f.s->purge(only_b).is_ok());
  ASSERT_NE(f.s->segment_files().back(), files.back()) << "the purge did not replace the active segment";
  f.fs->power_loss();
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  const snapshot snap = take_snapshot(*again);
  EXPECT_EQ(snap.messages.size(), as);
  for (const stored_message& m : snap.messages) EXPECT_EQ(m.subject, "a") << "purged message " << m.seq.value;
  EXPECT_EQ(again->state().last_seq.value, last);
}

// A segment deleted while tombstones in it still matter (for messages of older segments) carries
// them to the active segment, which is synced before the file goes, whatever the sync policy: the
// removal can reach the disk first (here the directory is synced as a file system's journal may do
// on its own), and message 3, deleted long before and durable as deleted, would come back.
TEST(FileFault, TombstonesCarriedFromADeletedSegmentAreSyncedBeforeItGoes) {
  faulty f(compactable::options(sync_policy::interval));
  for (std::uint64_t i = 1; i <= 8; ++i) ASSERT_EQ(f.put(compactable::payload(i)), i);
  ASSERT_TRUE(f.s->remove(stream_seq{3}, false).is_ok());  // its tombstone goes to the second
  for (std::uint64_t i = 9; i <= 15; ++i) ASSERT_EQ(f.put(compactable::payload(i)), i);
  ASSERT_EQ(f.s->segment_files().size(), 3u);
  ASSERT_TRUE(f.s->close().is_ok());  // everything durable
  f.open();
  for (std::uint64_t seq = 8; seq <= 14; ++seq) ASSERT_TRUE(f.s->remove(stream_seq{seq}, false).is_ok());
  ASSERT_EQ(f.s->segment_files().size(), 2u) << "the second segment emptied and went";
  ASSERT_TRUE(f.fs->sync_directory(f.dir.sub("s")).is_ok());
  f.fs->power_loss();
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_FALSE(again->load(stream_seq{3}).is_ok()) << "a deleted message came back";
  EXPECT_EQ(again->load(stream_seq{4})->data, compactable::payload(4));
}

// A filtered purge that empties the active segment leaves a fresh, empty one named after the next
// sequence; a later purge of everything reuses it (a second file of that name cannot be made).
TEST(FileFault, APurgeOfEverythingAfterOneThatEmptiedTheActiveSegment) {
  faulty f(compactable::options(sync_policy::always));
  for (std::uint64_t i = 1; i <= 14; ++i) ASSERT_EQ(f.put(compactable::payload(i), i <= 7 ? "a" : "b"), i);
  ASSERT_TRUE(flushed(*f.s).is_ok());
  purge_request only_b;
  only_b.filter = "b";
  ASSERT_EQ(f.s->purge(only_b).value(), 7u);
  const auto everything = f.s->purge({});
  ASSERT_TRUE(everything.is_ok()) << everything.status().to_string();
  EXPECT_EQ(*everything, 7u);
  EXPECT_EQ(f.s->segment_files().size(), 1u);
  EXPECT_EQ(f.put("next"), 15u);
  ASSERT_TRUE(flushed(*f.s).is_ok());
  auto again = f.reopen_posix();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(datas(*again), std::vector<std::string>{"next"});
  EXPECT_EQ(again->state().last_seq.value, 15u);
}

}  // namespace
}  // namespace ferry::store::testing
