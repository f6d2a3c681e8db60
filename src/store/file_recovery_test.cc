// Recovery: a torn tail cut at every byte of the last record, a flipped byte at every offset of a
// record in the middle, damage followed only by non-message records, stray and garbage files,
// missing segments.
#include <gtest/gtest.h>

#include <fstream>

#include "store/record.h"
#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

void spit(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class FileRecovery : public ::testing::Test {
 protected:
  std::unique_ptr<file_store> open(const std::string& dir) {
    auto r = file_store::open(dir, opts_);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(*r) : nullptr;
  }
  // A one-segment store with `n` messages "m<seq>" on subject "s"; returns the record offsets.
  std::vector<std::size_t> make(const std::string& dir, int n) {
    auto s = open(dir);
    std::vector<std::size_t> offsets;
    std::size_t at = record::segment_header_size;
    for (int i = 1; i <= n; ++i) {
      const std::string data = "m" + std::to_string(i);
      EXPECT_TRUE(s->append("s", "", data, i).is_ok());
      offsets.push_back(at);
      at += record::message_size(1, 0, data.size());
    }
    offsets.push_back(at);  // the end
    EXPECT_TRUE(s->close().is_ok());
    return offsets;
  }
  static const std::string seg1;
  temp_dir dir_;
  store_options opts_;
};
const std::string FileRecovery::seg1 = "/00000000000000000001.seg";

TEST_F(FileRecovery, TornTailAtEveryOffsetOfTheLastRecord) {
  const std::string src = dir_.sub("src");
  const auto offsets = make(src, 6);
  const std::string whole = slurp(src + seg1);
  ASSERT_EQ(whole.size(), offsets.back());
  const std::size_t last_start = offsets[5];
  for (std::size_t cut = last_start; cut < whole.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string d = dir_.sub("cut" + std::to_string(cut));
    std::filesystem::create_directories(d);
    spit(d + seg1, whole.substr(0, cut));
    auto s = open(d);
    ASSERT_NE(s, nullptr);
    const store_state st = s->state();
    EXPECT_EQ(st.msgs, 5u);
    EXPECT_EQ(st.last_seq, stream_seq{5});
    EXPECT_TRUE(st.lost.empty());
    for (std::uint64_t q = 1; q <= 5; ++q) EXPECT_EQ(s->load(stream_seq{q})->data, "m" + std::to_string(q));
    EXPECT_EQ(std::filesystem::file_size(d + seg1), last_start);  // the torn bytes are gone
    // The store goes on: the next message takes the lost one's place and survives a reopen.
    EXPECT_EQ(s->append("s", "", "again", 7)->value, 6u);
    ASSERT_TRUE(s->close().is_ok());
    s = open(d);
    EXPECT_EQ(s->load(stream_seq{6})->data, "again");
    EXPECT_TRUE(s->state().lost.empty());
  }
}

TEST_F(FileRecovery, TornSegmentHeader) {
  const std::string d = dir_.sub("d");
  make(d, 3);
  // A crash right after a rotation created the next segment: its header is cut short.
  std::string header;
  record::append_segment_header(header, 4);
  spit(d + "/00000000000000000004.seg", header.substr(0, 10));
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().msgs, 3u);
  EXPECT_EQ(s->state().last_seq, stream_seq{3});
  EXPECT_EQ(s->append("s", "", "x", 9)->value, 4u);
  ASSERT_TRUE(s->close().is_ok());
  s = open(d);
  EXPECT_EQ(s->state().msgs, 4u);
}

TEST_F(FileRecovery, FlippedByteAtEveryOffsetOfAMiddleRecord) {
  const std::string src = dir_.sub("src");
  const auto offsets = make(src, 9);
  const std::string whole = slurp(src + seg1);
  for (std::size_t at = offsets[4]; at < offsets[5]; ++at) {  // the record of message 5
    SCOPED_TRACE("byte " + std::to_string(at));
    const std::string d = dir_.sub("flip" + std::to_string(at));
    std::filesystem::create_directories(d);
    std::string bad = whole;
    bad[at] = static_cast<char>(bad[at] ^ 0x5A);
    spit(d + seg1, bad);
    auto s = open(d);
    ASSERT_NE(s, nullptr);
    const store_state st = s->state();
    EXPECT_EQ(st.lost, std::vector<std::uint64_t>{5});
    EXPECT_EQ(st.msgs, 8u);
    EXPECT_EQ(st.last_seq, stream_seq{9});
    EXPECT_EQ(s->load(stream_seq{5}).status().code(), status_code::not_found);
    for (std::uint64_t q = 1; q <= 9; ++q) {
      if (q != 5) {
        EXPECT_EQ(s->load(stream_seq{q})->data, "m" + std::to_string(q));
      }
    }
    EXPECT_EQ(s->deleted(), std::vector<std::uint64_t>{5});
    EXPECT_EQ(s->append("s", "", "next", 10)->value, 10u);
  }
}

TEST_F(FileRecovery, DamagedFirstRecordOfASealedSegment) {
  opts_.segment_bytes = record::segment_header_size + 3 * record::message_size(1, 0, 2);
  const std::string d = dir_.sub("d");
  make(d, 9);  // segments 1 (1-3), 4 (4-6), 7 (7-9)
  const std::string seg4 = d + "/00000000000000000004.seg";
  std::string bytes = slurp(seg4);
  bytes[2] = 'X';  // the segment header
  bytes[record::segment_header_size + 20] ^= 1;  // message 4
  spit(seg4, bytes);
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().lost, std::vector<std::uint64_t>{4});
  EXPECT_EQ(s->state().msgs, 8u);
}

TEST_F(FileRecovery, DamagedTailOfASealedSegment) {
  opts_.segment_bytes = record::segment_header_size + 3 * record::message_size(1, 0, 2);
  const std::string d = dir_.sub("d");
  make(d, 9);
  const std::string seg4 = d + "/00000000000000000004.seg";
  std::string bytes = slurp(seg4);
  bytes[bytes.size() - 3] ^= 1;  // message 6, the last of its segment
  spit(seg4, bytes);
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().lost, std::vector<std::uint64_t>{6});
  EXPECT_EQ(s->load(stream_seq{7})->data, "m7");
}

TEST_F(FileRecovery, DamagedLastMessageFollowedOnlyByATombstoneIsLostNotReused) {
  const std::string d = dir_.sub("d");
  {
    auto s = open(d);
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(s->append("s", "", "m" + std::to_string(i), i).is_ok());
    ASSERT_TRUE(s->remove(stream_seq{2}, false).is_ok());  // a tombstone after message 4
    ASSERT_TRUE(s->close().is_ok());
  }
  std::string bytes = slurp(d + seg1);
  const std::size_t m4 = record::segment_header_size + 3 * record::message_size(1, 0, 2);
  bytes[m4 + 30] ^= 1;
  spit(d + seg1, bytes);
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().lost, std::vector<std::uint64_t>{4});
  EXPECT_EQ(s->state().last_seq, stream_seq{4});
  EXPECT_EQ(s->append("s", "", "x", 9)->value, 5u);  // 4 is not handed out again
}

// Two records damaged where they start (not even recognisable as messages), followed in the last
// segment only by the tombstone of the second: what the tombstone refers to bounds the damage, so
// the first is reported lost, the removed one is not, and neither sequence is handed out again.
TEST_F(FileRecovery, UnrecognisableDamageIsBoundedByALaterTombstone) {
  const std::string d = dir_.sub("d");
  {
    auto s = open(d);
    for (int i = 1; i <= 4; ++i) ASSERT_TRUE(s->append("s", "", "m" + std::to_string(i), i).is_ok());
    ASSERT_TRUE(s->remove(stream_seq{4}, false).is_ok());
    ASSERT_TRUE(s->close().is_ok());
  }
  std::string bytes = slurp(d + seg1);
  const std::size_t m3 = record::segment_header_size + 2 * record::message_size(1, 0, 2);
  bytes[m3] ^= 1;                                  // message 3's magic
  bytes[m3 + record::message_size(1, 0, 2)] ^= 1;  // message 4's
  spit(d + seg1, bytes);
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().lost, std::vector<std::uint64_t>{3});
  EXPECT_EQ(s->state().msgs, 2u);
  EXPECT_EQ(s->append("s", "", "x", 9)->value, 5u);
}

TEST_F(FileRecovery, RemovedMessagesInDamagedRecordsAreNotLost) {
  const std::string d = dir_.sub("d");
  {
    auto s = open(d);
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(s->append("s", "", "m" + std::to_string(i), i).is_ok());
    ASSERT_TRUE(s->remove(stream_seq{3}, false).is_ok());
    ASSERT_TRUE(s->close().is_ok());
  }
  std::string bytes = slurp(d + seg1);
  bytes[record::segment_header_size + 2 * record::message_size(1, 0, 2) + 25] ^= 1;  // message 3
  spit(d + seg1, bytes);
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->state().lost.empty());
  EXPECT_EQ(s->state().msgs, 4u);
}

TEST_F(FileRecovery, StrayAndGarbageFiles) {
  const std::string d = dir_.sub("d");
  make(d, 3);
  spit(d + "/notes.txt", "not a segment");
  spit(d + "/00000000000000000002.seg.tmp", "leftover");
  spit(d + "/123.seg", "short name");
  std::filesystem::create_directory(d + "/subdir");
  // Files named like segments but holding no record at all are set aside, not trusted.
  spit(d + "/00000000000000000002.seg", "");  // empty, and not the last
  spit(d + "/00000000000000000003.seg", std::string(200, 'Z'));
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().msgs, 3u);
  EXPECT_TRUE(s->state().lost.empty());
  EXPECT_EQ(s->segment_files(), std::vector<std::string>{"00000000000000000001.seg"});
  EXPECT_TRUE(std::filesystem::exists(d + "/00000000000000000002.seg.bad"));
  EXPECT_TRUE(std::filesystem::exists(d + "/00000000000000000003.seg.bad"));
  EXPECT_TRUE(std::filesystem::exists(d + "/notes.txt"));
  EXPECT_FALSE(std::filesystem::exists(d + "/00000000000000000002.seg.tmp")) << "an interrupted compaction's";
  EXPECT_EQ(s->append("s", "", "x", 9)->value, 4u);
}

TEST_F(FileRecovery, GarbageAsTheOnlyFile) {
  const std::string d = dir_.sub("d");
  std::filesystem::create_directories(d);
  spit(d + seg1, std::string(500, '\xF0'));
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().msgs, 0u);
  EXPECT_EQ(s->append("s", "", "x", 1)->value, 1u);
}

TEST_F(FileRecovery, MissingSegmentLeavesAGap) {
  opts_.segment_bytes = record::segment_header_size + 3 * record::message_size(1, 0, 2);
  const std::string d = dir_.sub("d");
  make(d, 9);
  std::filesystem::remove(d + "/00000000000000000004.seg");
  auto s = open(d);
  ASSERT_NE(s, nullptr);
  const store_state st = s->state();
  EXPECT_EQ(st.msgs, 6u);
  EXPECT_EQ(st.last_seq, stream_seq{9});
  EXPECT_EQ(s->deleted(), (std::vector<std::uint64_t>{4, 5, 6}));
  EXPECT_EQ(s->load(stream_seq{7})->data, "m7");
}

TEST_F(FileRecovery, EmptyDirectoryAndMissingDirectory) {
  auto s = open(dir_.sub("a/b/c"));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->state().first_seq, stream_seq{1});
  EXPECT_EQ(s->append("s", "", "x", 1)->value, 1u);
}

}  // namespace
}  // namespace ferry::store::testing
