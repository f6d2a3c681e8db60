// Limits, applied by both stores on every append and on update_limits(): max_msgs, max_bytes,
// max_age, max_msgs_per_subject, max_msg_size, discard old and new, discard new per subject.
#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace ferry::store::testing {
namespace {

class StoreLimits : public store_test {
 protected:
  void with(const limits& l) {
    ASSERT_TRUE(s_->close().is_ok());
    s_.reset();
    if (is_file()) std::filesystem::remove_all(dir_.sub("stream"));
    open(l);
  }
  status try_put(std::string_view subject, std::string_view data = "x") {
    return s_->append(subject, "", data, static_cast<std::int64_t>(s_->state().last_seq.value + 1) * 1000).status();
  }
};
FERRY_STORE_SUITE(StoreLimits);

TEST_P(StoreLimits, MaxMsgsDiscardOld) {
  with({.max_msgs = 3});
  for (int i = 1; i <= 5; ++i) put("s", std::to_string(i));
  const store_state st = s_->state();
  EXPECT_EQ(st.msgs, 3u);
  EXPECT_EQ(st.first_seq, stream_seq{3});
  EXPECT_EQ(st.last_seq, stream_seq{5});
  EXPECT_EQ(data_at(3), "3");
  EXPECT_EQ(s_->load(stream_seq{2}).status().code(), status_code::not_found);
}

TEST_P(StoreLimits, MaxMsgsDiscardNew) {
  with({.max_msgs = 2, .discard = discard_policy::new_});
  put("s");
  put("s");
  const status st = try_put("s");
  EXPECT_EQ(st.code(), status_code::resource_exhausted);
  EXPECT_EQ(st.message(), "maximum messages exceeded");
  EXPECT_EQ(s_->state().last_seq, stream_seq{2});  // a refused message takes no sequence
  ASSERT_TRUE(s_->remove(stream_seq{1}, false).is_ok());
  EXPECT_EQ(put("s"), 3u);
}

TEST_P(StoreLimits, ZeroAndNegativeMeanUnlimited) {
  with({.max_msgs = 0, .max_bytes = 0, .max_msgs_per_subject = 0});
  for (int i = 0; i < 20; ++i) put("s");
  EXPECT_EQ(s_->state().msgs, 20u);
}

TEST_P(StoreLimits, MaxBytesDiscardOld) {
  const std::uint64_t one = size("s", "", "0123456789");
  with({.max_bytes = static_cast<std::int64_t>(3 * one)});
  for (int i = 0; i < 3; ++i) put("s", "0123456789");
  EXPECT_EQ(s_->state().msgs, 3u);  // exactly at the limit is allowed
  put("s", "0123456789");
  EXPECT_EQ(s_->state().msgs, 3u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{2});
  put("s", std::string(25, 'x'));  // bigger: two old ones go
  EXPECT_LE(s_->state().bytes, 3 * one);
  EXPECT_EQ(s_->state().first_seq, stream_seq{4});
}

TEST_P(StoreLimits, MaxBytesDiscardNewRefusesAtTheLimit) {
  const std::uint64_t one = size("s", "", "0123456789");
  with({.max_bytes = static_cast<std::int64_t>(3 * one), .discard = discard_policy::new_});
  put("s", "0123456789");
  put("s", "0123456789");
  // nats-server refuses once the total would reach max_bytes (>=), not only exceed it.
  const status st = try_put("s", "0123456789");
  EXPECT_EQ(st.code(), status_code::resource_exhausted);
  EXPECT_EQ(st.message(), "maximum bytes exceeded");
  EXPECT_TRUE(try_put("s", "012345678").is_ok());
  EXPECT_EQ(s_->state().msgs, 3u);
}

TEST_P(StoreLimits, MaxAgeExpire) {
  with({.max_age_ns = 10'000});
  put("s", "a", "", 1'000);
  put("s", "b", "", 5'000);
  put("s", "c", "", 9'000);
  EXPECT_EQ(s_->expire(10'999), 0u);  // 1000 is not older than 10'999 - 10'000
  EXPECT_EQ(s_->expire(11'000), 1u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{2});
  EXPECT_EQ(s_->expire(100'000), 2u);
  EXPECT_EQ(s_->state().msgs, 0u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{4});
}

TEST_P(StoreLimits, MaxAgeAppliedOnAppendWithItsTimestamp) {
  with({.max_age_ns = 10'000});
  put("s", "a", "", 1'000);
  put("s", "b", "", 5'000);
  put("s", "c", "", 14'000);  // 1000 is now too old, 5000 is not
  EXPECT_EQ(s_->state().msgs, 2u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{2});
}

TEST_P(StoreLimits, NoMaxAgeMeansExpireDoesNothing) {
  put("s", "a", "", 1);
  EXPECT_EQ(s_->expire(1'000'000'000), 0u);
  EXPECT_EQ(s_->state().msgs, 1u);
}

TEST_P(StoreLimits, MaxMsgsPerSubjectDropsThatSubjectsOldest) {
  with({.max_msgs_per_subject = 2});
  put("a", "a1");  // 1
  put("b", "b1");  // 2
  put("a", "a2");  // 3
  put("a", "a3");  // 4: removes 1
  put("b", "b2");  // 5
  EXPECT_EQ(s_->state().msgs, 4u);
  EXPECT_EQ(s_->load(stream_seq{1}).status().code(), status_code::not_found);
  EXPECT_EQ(data_at(2), "b1");
  EXPECT_EQ(s_->subjects(""), (std::map<std::string, std::uint64_t>{{"a", 2}, {"b", 2}}));
  put("b", "b3");  // removes 2
  EXPECT_EQ(s_->state().first_seq, stream_seq{3});
  EXPECT_EQ(s_->last_seq_of("b"), 6u);
}

TEST_P(StoreLimits, DiscardNewStillReplacesWithinASubject) {
  // KV-like: history 1, max_msgs 2, discard new. A new revision of a key replaces the old one
  // even when the stream is full; a new key is refused.
  with({.max_msgs = 2, .max_msgs_per_subject = 1, .discard = discard_policy::new_});
  put("kv.a", "1");
  put("kv.b", "1");
  EXPECT_TRUE(try_put("kv.a", "2").is_ok());
  EXPECT_EQ(try_put("kv.c", "1").code(), status_code::resource_exhausted);
  EXPECT_EQ(s_->state().msgs, 2u);
  EXPECT_EQ(s_->load_last("kv.a")->data, "2");
}

TEST_P(StoreLimits, DiscardNewPerSubjectRefusesAFullSubject) {
  with({.max_msgs_per_subject = 2, .discard = discard_policy::new_, .discard_new_per_subject = true});
  put("a");
  put("a");
  const status st = try_put("a");
  EXPECT_EQ(st.code(), status_code::resource_exhausted);
  EXPECT_EQ(st.message(), "maximum messages per subject exceeded");
  EXPECT_TRUE(try_put("b").is_ok());
  EXPECT_EQ(s_->state().msgs, 3u);
}

TEST_P(StoreLimits, DiscardNewPerSubjectNeedsDiscardNew) {
  with({.max_msgs_per_subject = 1, .discard_new_per_subject = true});  // discard old
  put("a", "1");
  EXPECT_TRUE(try_put("a", "2").is_ok());
  EXPECT_EQ(s_->state().msgs, 1u);
  EXPECT_EQ(s_->load_last("a")->data, "2");
}

TEST_P(StoreLimits, DiscardNewBytesWithSubjectReplacement) {
  const std::uint64_t one = size("a", "", "xxxx");
  with({.max_bytes = static_cast<std::int64_t>(2 * one), .max_msgs_per_subject = 1, .discard = discard_policy::new_});
  put("a", "xxxx");
  // The total would reach the limit, but the message replaces a's only message, as big.
  EXPECT_TRUE(try_put("a", "yyyy").is_ok());
  // A bigger replacement does not fit.
  EXPECT_EQ(try_put("a", std::string(one + 4, 'z')).code(), status_code::resource_exhausted);
  EXPECT_EQ(try_put("b", "xxxx").code(), status_code::resource_exhausted);
}

TEST_P(StoreLimits, MaxMsgSizeCountsHeadersAndData) {
  with({.max_msg_size = 10});
  EXPECT_TRUE(s_->append("s", "", std::string(10, 'x'), 1).is_ok());
  EXPECT_TRUE(s_->append("s", "hhhh", "dddddd", 2).is_ok());
  const auto r = s_->append("s", "hhhh", "ddddddd", 3);
  EXPECT_EQ(r.status().code(), status_code::invalid_argument);
  EXPECT_EQ(r.status().message(), "message size exceeds maximum allowed");
  EXPECT_EQ(s_->state().msgs, 2u);
}

TEST_P(StoreLimits, MaxMsgSizeZeroAllowsOnlyEmpty) {
  with({.max_msg_size = 0});
  EXPECT_TRUE(s_->append("s", "", "", 1).is_ok());
  EXPECT_FALSE(s_->append("s", "", "x", 2).is_ok());
}

TEST_P(StoreLimits, UpdateLimitsAppliesAtOnce) {
  for (int i = 0; i < 10; ++i) put(i % 2 ? "odd" : "even", std::to_string(i + 1));
  ASSERT_TRUE(s_->update_limits({.max_msgs_per_subject = 3}).is_ok());
  EXPECT_EQ(s_->state().msgs, 6u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{5});
  ASSERT_TRUE(s_->update_limits({.max_msgs = 2}).is_ok());
  EXPECT_EQ(s_->state().msgs, 2u);
  EXPECT_EQ(s_->state().first_seq, stream_seq{9});
  ASSERT_TRUE(s_->update_limits({.max_bytes = static_cast<std::int64_t>(size("odd", "", "10"))}).is_ok());
  EXPECT_EQ(s_->state().msgs, 1u);
  EXPECT_EQ(data_at(10), "10");
  ASSERT_TRUE(s_->update_limits({}).is_ok());  // raising removes nothing and allows more
  for (int i = 0; i < 5; ++i) put("x");
  EXPECT_EQ(s_->state().msgs, 6u);
  ASSERT_TRUE(s_->update_limits({.max_age_ns = 1000}).is_ok());
  EXPECT_EQ(s_->expire(15'000), 5u);  // ts 10'000 .. 14'000 are at most 14'000
}

TEST_P(StoreLimits, LimitsTogether) {
  with({.max_msgs = 5, .max_bytes = static_cast<std::int64_t>(4 * size("s.1", "", "xx")), .max_msgs_per_subject = 2});
  for (int i = 0; i < 20; ++i) put("s." + std::to_string(i % 3), "xx");
  const store_state st = s_->state();
  EXPECT_EQ(st.msgs, 4u);
  EXPECT_EQ(st.first_seq, stream_seq{17});
  for (const auto& [subj, n] : s_->subjects("")) EXPECT_LE(n, 2u) << subj;
}

}  // namespace
}  // namespace ferry::store::testing
