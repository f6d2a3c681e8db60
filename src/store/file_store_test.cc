// File store behaviour beyond the shared semantics: reopening, segment rotation and deletion,
// tombstones and purge floors surviving the deletion of the segment that held them, erase on
// disk, reads of damaged records, destroy.
#include <gtest/gtest.h>

#include <fstream>

#include "store/record.h"
#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

std::string all_segments(const std::string& dir) {
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out += slurp(e.path().string());
  return out;
}

class FileStore : public ::testing::Test {
 protected:
  void open(std::uint64_t segment_bytes = 64ull << 20) {
    opts_.segment_bytes = segment_bytes;
    auto r = file_store::open(path(), opts_);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    s_ = std::move(*r);
  }
  void reopen() {
    ASSERT_TRUE(s_->close().is_ok());
    s_.reset();
    open(opts_.segment_bytes);
  }
  std::string path() const { return dir_.sub("s"); }
  std::uint64_t put(std::string_view subject, std::string_view data = "x") {
    auto r = s_->append(subject, "", data, static_cast<std::int64_t>(s_->state().last_seq.value + 1));
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? r->value : 0;
  }
  void flush() {
    s_->flush_then([](status s) { EXPECT_TRUE(s.is_ok()) << s.to_string(); });
  }
  // The segment size that holds exactly `n` messages of put(subject 1 byte, data 10 bytes).
  static std::uint64_t fits(std::uint64_t n) {
    return record::segment_header_size + n * record::message_size(1, 0, 10) + 2 * record::seq_record_size;
  }

  temp_dir dir_;
  store_options opts_;
  std::unique_ptr<file_store> s_;
};

TEST_F(FileStore, ReopenKeepsEverything) {
  open();
  put("a", "1");
  ASSERT_TRUE(s_->append("b", "NATS/1.0\r\nX: y\r\n\r\n", "2", 77).is_ok());
  put("a", "3");
  put("c", "4");
  ASSERT_TRUE(s_->remove(stream_seq{3}, false).is_ok());
  const snapshot before = take_snapshot(*s_);
  reopen();
  expect_same(before, take_snapshot(*s_));
  EXPECT_EQ(s_->load(stream_seq{2})->headers, "NATS/1.0\r\nX: y\r\n\r\n");
  EXPECT_EQ(s_->load(stream_seq{2})->timestamp_ns, 77);
  EXPECT_EQ(put("d"), 5u);
  reopen();
  EXPECT_EQ(s_->state().msgs, 4u);
  EXPECT_EQ(s_->load(stream_seq{5})->subject, "d");
}

TEST_F(FileStore, TighterLimitsApplyAtOpen) {
  open();
  for (int i = 0; i < 20; ++i) put(i % 2 ? "a" : "b");
  ASSERT_TRUE(s_->close().is_ok());
  opts_.lim.max_msgs = 5;
  opts_.lim.max_msgs_per_subject = 2;
  open();
  EXPECT_EQ(s_->state().msgs, 4u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{17});
}

TEST_F(FileStore, UnflushedAppendsAreReadableAndWrittenOnClose) {
  open();
  put("a", "buffered");
  EXPECT_EQ(s_->load(stream_seq{1})->data, "buffered");  // from the write buffer
  EXPECT_EQ(std::filesystem::file_size(path() + "/" + s_->segment_files()[0]), 0u);
  reopen();
  EXPECT_EQ(s_->load(stream_seq{1})->data, "buffered");
}

// Reads go through per-thread read-ahead blocks of 64 KiB: every record comes back whole and
// right in any order, across block ends, larger than a block, and while appends continue.
TEST_F(FileStore, ReadAheadReturnsEveryRecordInAnyOrder) {
  open();
  auto payload = [](std::uint64_t seq) {
    return std::string(1 + (seq * 7919) % 3000, static_cast<char>('a' + seq % 26)) + std::to_string(seq);
  };
  std::uint64_t last = 0;
  for (int i = 0; i < 300; ++i) last = put("s", payload(last + 1));  // ~450 KiB: several blocks
  last = put("s", std::string(200 * 1024, 'L'));                     // larger than a block
  flush();
  auto check = [&](std::uint64_t seq) {
    auto m = s_->load(stream_seq{seq});
    ASSERT_TRUE(m.is_ok()) << seq << ": " << m.status().to_string();
    EXPECT_EQ(m->data, seq == 301 ? std::string(200 * 1024, 'L') : payload(seq)) << seq;
  };
  for (std::uint64_t q = 1; q <= last; ++q) check(q);
  for (std::uint64_t q = last; q >= 1; --q) check(q);
  for (std::uint64_t q = 1, k = 0; k < 600; ++k, q = (q * 48271) % last + 1) check(q);
  // Appends after a block was read: the block ends where the file ended, the new records are read.
  check(300);
  for (int i = 0; i < 5; ++i) last = put("s", payload(last + 1));
  flush();
  for (std::uint64_t q = 299; q <= last; ++q) {
    if (q != 301) check(q);
  }
}

// An erase overwrites a record on disk that a read-ahead block may still hold: the erased message
// is gone all the same, and its neighbours read from the block stay right.
TEST_F(FileStore, ReadAheadAndEraseAgree) {
  open();
  for (int i = 1; i <= 3; ++i) put("s", "message " + std::to_string(i));
  flush();
  EXPECT_EQ(s_->load(stream_seq{1})->data, "message 1");  // reads all three into a block
  ASSERT_TRUE(s_->remove(stream_seq{2}, true).is_ok());
  flush();
  EXPECT_EQ(s_->load(stream_seq{2}).status().code(), status_code::not_found);
  EXPECT_EQ(s_->load(stream_seq{1})->data, "message 1");
  EXPECT_EQ(s_->load(stream_seq{3})->data, "message 3");
  reopen();
  EXPECT_EQ(s_->load(stream_seq{2}).status().code(), status_code::not_found);
  EXPECT_EQ(s_->load(stream_seq{3})->data, "message 3");
}

// Two stores whose files look alike (same segment numbers and offsets) on one thread: each
// reads its own bytes, never the other's read-ahead.
TEST_F(FileStore, ReadAheadBlocksBelongToOneStore) {
  open();
  put("s", "first store");
  flush();
  auto other = file_store::open(dir_.sub("other"), opts_);
  ASSERT_TRUE(other.is_ok());
  ASSERT_TRUE((*other)->append("s", "", "other store", 1).is_ok());
  (*other)->flush_then([](status s) { EXPECT_TRUE(s.is_ok()); });
  EXPECT_EQ(s_->load(stream_seq{1})->data, "first store");
  EXPECT_EQ((*other)->load(stream_seq{1})->data, "other store");
  EXPECT_EQ(s_->load(stream_seq{1})->data, "first store");
}

TEST_F(FileStore, SegmentsRotateAtTheSizeLimit) {
  open(fits(4));
  for (int i = 0; i < 10; ++i) put("s", "0123456789");
  EXPECT_EQ(s_->segment_files(), (std::vector<std::string>{"00000000000000000001.seg", "00000000000000000005.seg",
                                                           "00000000000000000009.seg"}));
  flush();
  for (const auto& f : s_->segment_files()) EXPECT_LE(std::filesystem::file_size(path() + "/" + f), fits(4));
  // A message bigger than a segment gets a segment of its own.
  put("s", std::string(fits(4) * 2, 'x'));
  put("s", "0123456789");
  EXPECT_EQ(s_->segment_files().size(), 5u);
  reopen();
  EXPECT_EQ(s_->state().msgs, 12u);
  EXPECT_EQ(s_->load(stream_seq{11})->data.size(), fits(4) * 2);
}

TEST_F(FileStore, EmptiedSegmentsAreDeleted) {
  open(fits(4));
  for (int i = 0; i < 12; ++i) put("s", "0123456789");  // segments 1-4, 5-8, 9-12
  ASSERT_EQ(s_->segment_files().size(), 3u);
  // Interior removals (tombstones) empty the middle segment.
  for (std::uint64_t q = 5; q <= 8; ++q) ASSERT_TRUE(s_->remove(stream_seq{q}, false).is_ok());
  EXPECT_EQ(s_->segment_files(), (std::vector<std::string>{"00000000000000000001.seg", "00000000000000000009.seg"}));
  EXPECT_FALSE(std::filesystem::exists(path() + "/00000000000000000005.seg"));
  // Limits at the front (the purge floor) empty the first.
  ASSERT_TRUE(s_->update_limits({.max_msgs = 3}).is_ok());
  EXPECT_EQ(s_->segment_files(), (std::vector<std::string>{"00000000000000000009.seg"}));
  reopen();
  EXPECT_EQ(s_->state().msgs, 3u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{10});
  EXPECT_EQ(s_->state().num_deleted, 0u);
}

// skip_to: the last sequence raised past a lost tail survives a restart, the messages kept stay,
// and appends continue after it (never reusing a sequence someone has seen).
TEST_F(FileStore, SkipToRaisesTheLastSequenceDurably) {
  open();
  put("a", "1");
  put("b", "2");
  ASSERT_TRUE(s_->skip_to(stream_seq{50}).is_ok());
  EXPECT_EQ(s_->state().last_seq, stream_seq{50});
  ASSERT_TRUE(s_->skip_to(stream_seq{10}).is_ok()) << "lower: nothing to do";
  EXPECT_EQ(s_->state().last_seq, stream_seq{50});
  reopen();
  EXPECT_EQ(s_->state().last_seq, stream_seq{50});
  EXPECT_EQ(s_->state().msgs, 2u);
  EXPECT_EQ(s_->load(stream_seq{2})->data, "2");
  EXPECT_EQ(put("c"), 51u);
  reopen();
  EXPECT_EQ(s_->state().last_seq, stream_seq{51});
  EXPECT_EQ(s_->state().num_deleted, 48u) << "3..50 are gaps";
  ASSERT_TRUE(s_->purge({}).is_ok());
  ASSERT_TRUE(s_->skip_to(stream_seq{80}).is_ok());
  reopen();
  EXPECT_EQ(put("d"), 81u) << "also on an empty stream";
}

TEST_F(FileStore, PurgeAllLeavesOneFreshSegmentAndKeepsTheSequence) {
  open(fits(4));
  for (int i = 0; i < 10; ++i) put("s", "0123456789");
  ASSERT_TRUE(s_->purge({}).is_ok());
  EXPECT_EQ(s_->segment_files(), (std::vector<std::string>{"00000000000000000011.seg"}));
  reopen();
  EXPECT_EQ(s_->state().last_seq, stream_seq{10});
  EXPECT_EQ(s_->state().first_seq, stream_seq{11});
  EXPECT_EQ(put("s"), 11u);
  ASSERT_TRUE(s_->purge({.up_to = stream_seq{1000}}).is_ok());
  reopen();
  EXPECT_EQ(s_->state().first_seq, stream_seq{1000});
  EXPECT_EQ(put("s"), 1000u);
}

TEST_F(FileStore, TombstonesSurviveTheDeletionOfTheirSegment) {
  open(fits(4));
  for (int i = 0; i < 4; ++i) put("s", "0123456789");     // segment 1: 1-4
  for (int i = 0; i < 4; ++i) put("s", "0123456789");     // segment 5: 5-8
  ASSERT_TRUE(s_->remove(stream_seq{2}, false).is_ok());  // tombstone lands in segment 5
  for (int i = 0; i < 4; ++i) put("s", "0123456789");     // segment 9: 9-12
  for (std::uint64_t q = 5; q <= 8; ++q) ASSERT_TRUE(s_->remove(stream_seq{q}, false).is_ok());
  ASSERT_FALSE(std::filesystem::exists(path() + "/00000000000000000005.seg"));
  reopen();
  EXPECT_EQ(s_->load(stream_seq{2}).status().code(), status_code::not_found);
  EXPECT_EQ(s_->deleted(), (std::vector<std::uint64_t>{2, 5, 6, 7, 8}));
  EXPECT_TRUE(s_->state().lost.empty());
}

TEST_F(FileStore, PurgeFloorSurvivesTheDeletionOfItsSegment) {
  open(fits(4));
  for (int i = 0; i < 4; ++i) put("s", "0123456789");  // 1-4
  ASSERT_TRUE(s_->remove(stream_seq{3}, false).is_ok());
  for (int i = 0; i < 4; ++i) put("s", "0123456789");  // 5-8
  ASSERT_TRUE(s_->remove(stream_seq{1}, false).is_ok());
  ASSERT_TRUE(s_->remove(stream_seq{2}, false).is_ok());
  flush();                                             // floor 4 is written into segment 5
  for (int i = 0; i < 4; ++i) put("s", "0123456789");  // 9-12
  for (std::uint64_t q = 5; q <= 8; ++q) ASSERT_TRUE(s_->remove(stream_seq{q}, false).is_ok());
  ASSERT_FALSE(std::filesystem::exists(path() + "/00000000000000000005.seg"));
  reopen();
  EXPECT_EQ(s_->state().first_seq, stream_seq{4});
  EXPECT_EQ(s_->state().msgs, 5u);
}

TEST_F(FileStore, EraseOverwritesTheBytesOnDisk) {
  open();
  put("a", "SECRET-ONE");
  put("a", "SECRET-TWO");
  put("a", "public");
  flush();
  ASSERT_TRUE(s_->remove(stream_seq{1}, true).is_ok());  // written already: overwritten in place
  put("a", "SECRET-FOUR");
  ASSERT_TRUE(s_->remove(stream_seq{4}, true).is_ok());  // still buffered
  ASSERT_TRUE(s_->remove(stream_seq{2}, false).is_ok());
  flush();
  const std::string disk = all_segments(path());
  EXPECT_EQ(disk.find("SECRET-ONE"), std::string::npos);
  EXPECT_EQ(disk.find("SECRET-FOUR"), std::string::npos);
  EXPECT_NE(disk.find("SECRET-TWO"), std::string::npos);  // a plain remove leaves the bytes
  reopen();
  EXPECT_EQ(s_->state().msgs, 1u);
  EXPECT_EQ(s_->load(stream_seq{3})->data, "public");
  EXPECT_TRUE(s_->state().lost.empty());
  EXPECT_EQ(s_->state().last_seq, stream_seq{4});
}

TEST_F(FileStore, ADamagedRecordReadsAsDataLoss) {
  open();
  put("a", "AAAAAAAA");
  put("a", "BBBBBBBB");
  flush();
  const std::string seg = path() + "/" + s_->segment_files()[0];
  std::string bytes = slurp(seg);
  bytes[bytes.find("BBBB")] = 'C';
  std::ofstream(seg, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(s_->load(stream_seq{2}).status().code(), status_code::data_loss);
  EXPECT_EQ(s_->load(stream_seq{1})->data, "AAAAAAAA");
}

TEST_F(FileStore, OpenFailsWhenTheDirectoryIsAFile) {
  std::ofstream(path()) << "not a directory";
  auto r = file_store::open(path(), opts_);
  EXPECT_FALSE(r.is_ok());
}

TEST_F(FileStore, DestroyRemovesTheFiles) {
  open(fits(2));
  for (int i = 0; i < 5; ++i) put("s", "0123456789");
  // A compaction's temporary file left by a crash (the next open would remove it).
  std::ofstream(path() + "/00000000000000000001.seg.tmp") << "partial";
  ASSERT_TRUE(s_->destroy().is_ok());
  EXPECT_FALSE(std::filesystem::exists(path()));
  EXPECT_EQ(s_->append("s", "", "x", 1).status().code(), status_code::failed_precondition);
}

TEST_F(FileStore, SyncIntervalAcknowledgesAtOnceAndSyncsPeriodically) {
  opts_.sync = sync_policy::interval;
  opts_.sync_interval_ns = 5'000'000;
  open();
  put("a");
  bool called = false;
  s_->flush_then([&called](status s) {
    EXPECT_TRUE(s.is_ok());
    called = true;
  });
  EXPECT_TRUE(called);  // written to the kernel, acknowledged before flush_then returns
  for (int i = 0; i < 400 && s_->sync_count() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(s_->sync_count(), 0u);
}

TEST_F(FileStore, CloseSyncsWithSyncInterval) {
  open();  // default interval: two minutes
  put("a");
  flush();
  EXPECT_EQ(s_->sync_count(), 0u);
  ASSERT_TRUE(s_->close().is_ok());
  EXPECT_GT(s_->sync_count(), 0u);
}

}  // namespace
}  // namespace ferry::store::testing
