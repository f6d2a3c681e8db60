// Every purge shape: all, by filter, below a sequence, keeping the newest, and combinations.
#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

class StorePurge : public store_test {
 protected:
  // a, b, a, c.x, a, b, c.y, a (seqs 1..8)
  void fill() {
    for (const char* s : {"a", "b", "a", "c.x", "a", "b", "c.y", "a"}) put(s);
  }
  std::uint64_t purge(const purge_request& r) {
    auto n = s_->purge(r);
    EXPECT_TRUE(n.is_ok()) << n.status().to_string();
    return n.is_ok() ? *n : 0;
  }
  std::vector<std::uint64_t> live() {
    std::vector<std::uint64_t> out;
    for (auto m = s_->load_next(stream_seq{0}, ""); m.is_ok(); m = s_->load_next(m->seq.next(), "")) {
      out.push_back(m->seq.value);
    }
    return out;
  }
  using seqs = std::vector<std::uint64_t>;
};
FERRY_STORE_SUITE(StorePurge);

TEST_P(StorePurge, All) {
  fill();
  EXPECT_EQ(purge({}), 8u);
  const store_state st = s_->state();
  EXPECT_EQ(st.msgs, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(st.first_seq, stream_seq{9});
  EXPECT_EQ(st.last_seq, stream_seq{8});
  EXPECT_EQ(st.num_subjects, 0u);
  EXPECT_EQ(put("a"), 9u);
  EXPECT_EQ(purge({}), 1u);
  EXPECT_EQ(purge({}), 0u);
}

TEST_P(StorePurge, EmptyStore) {
  EXPECT_EQ(purge({}), 0u);
  EXPECT_EQ(purge({.filter = "a", .keep = 1}), 0u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{1});
}

TEST_P(StorePurge, ByLiteralSubject) {
  fill();
  EXPECT_EQ(purge({.filter = "a"}), 4u);
  EXPECT_EQ(live(), (seqs{2, 4, 6, 7}));
  EXPECT_EQ(s_->deleted(), (seqs{3, 5, 8}));  // 8 is still the last sequence
  EXPECT_EQ(s_->state().first_seq, stream_seq{2});
  EXPECT_EQ(s_->last_seq_of("a"), 0u);
  EXPECT_EQ(purge({.filter = "nothing"}), 0u);
}

TEST_P(StorePurge, ByWildcard) {
  fill();
  EXPECT_EQ(purge({.filter = "c.*"}), 2u);
  EXPECT_EQ(live(), (seqs{1, 2, 3, 5, 6, 8}));
  EXPECT_EQ(purge({.filter = ">"}), 6u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{9});
}

TEST_P(StorePurge, UpToSequence) {
  fill();
  EXPECT_EQ(purge({.up_to = stream_seq{4}}), 3u);
  EXPECT_EQ(live(), (seqs{4, 5, 6, 7, 8}));
  EXPECT_EQ(s_->state().first_seq, stream_seq{4});
  EXPECT_EQ(purge({.up_to = stream_seq{1}}), 0u);
  EXPECT_EQ(purge({.up_to = stream_seq{0}}), 0u);
  EXPECT_EQ(purge({.up_to = stream_seq{9}}), 5u);  // last + 1: everything, no jump
  EXPECT_EQ(s_->state().last_seq, stream_seq{8});
}

TEST_P(StorePurge, UpToPastTheEndMovesTheSequence) {
  fill();
  EXPECT_EQ(purge({.up_to = stream_seq{100}}), 8u);
  const store_state st = s_->state();
  EXPECT_EQ(st.first_seq, stream_seq{100});
  EXPECT_EQ(st.last_seq, stream_seq{99});
  EXPECT_EQ(put("a"), 100u);
  EXPECT_EQ(s_->state().num_deleted, 0u);
}

TEST_P(StorePurge, Keep) {
  fill();
  ASSERT_TRUE(s_->remove(stream_seq{7}, false).is_ok());
  EXPECT_EQ(purge({.keep = 3}), 4u);  // keeps exactly 3, across the gap at 7
  EXPECT_EQ(live(), (seqs{5, 6, 8}));
  EXPECT_EQ(purge({.keep = 3}), 0u);
  EXPECT_EQ(purge({.keep = 10}), 0u);
  EXPECT_EQ(purge({.keep = 0}), 3u);  // keep 0 is no keep: purge all
}

TEST_P(StorePurge, FilterAndKeep) {
  fill();
  EXPECT_EQ(purge({.filter = "a", .keep = 1}), 3u);
  EXPECT_EQ(live(), (seqs{2, 4, 6, 7, 8}));
  EXPECT_EQ(purge({.filter = "c.>", .keep = 1}), 1u);
  EXPECT_EQ(live(), (seqs{2, 6, 7, 8}));
  EXPECT_EQ(purge({.filter = "b", .keep = 5}), 0u);
}

TEST_P(StorePurge, FilterAndUpTo) {
  fill();
  EXPECT_EQ(purge({.filter = "a", .up_to = stream_seq{5}}), 2u);
  EXPECT_EQ(live(), (seqs{2, 4, 5, 6, 7, 8}));
  EXPECT_EQ(purge({.filter = "*", .up_to = stream_seq{7}}), 3u);  // "*" matches one token only
  EXPECT_EQ(live(), (seqs{4, 7, 8}));
  // A filtered purge never moves the sequence.
  EXPECT_EQ(purge({.filter = "a", .up_to = stream_seq{100}}), 1u);
  EXPECT_EQ(s_->state().last_seq, stream_seq{8});
}

TEST_P(StorePurge, UpToAndKeep) {
  // Both bounds hold: below up_to and not among the newest `keep`.
  fill();
  EXPECT_EQ(purge({.up_to = stream_seq{7}, .keep = 4}), 4u);
  EXPECT_EQ(live(), (seqs{5, 6, 7, 8}));
  EXPECT_EQ(purge({.up_to = stream_seq{6}, .keep = 1}), 1u);
  EXPECT_EQ(live(), (seqs{6, 7, 8}));
}

TEST_P(StorePurge, FilterUpToAndKeep) {
  fill();
  EXPECT_EQ(purge({.filter = "a", .up_to = stream_seq{8}, .keep = 3}), 1u);  // only seq 1
  EXPECT_EQ(live(), (seqs{2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(purge({.filter = "a", .up_to = stream_seq{4}, .keep = 1}), 1u);  // seq 3
  EXPECT_EQ(live(), (seqs{2, 4, 5, 6, 7, 8}));
}

TEST_P(StorePurge, PurgeThenAppendAndPending) {
  fill();
  EXPECT_EQ(purge({.filter = "b"}), 2u);
  put("b");
  EXPECT_EQ(s_->num_pending(stream_seq{0}, "b"), 1u);
  EXPECT_EQ(s_->num_pending(stream_seq{0}, ""), 7u);
  EXPECT_EQ(s_->load_next(stream_seq{2}, "b")->seq, stream_seq{9});
}

}  // namespace
}  // namespace ferry::store::testing
