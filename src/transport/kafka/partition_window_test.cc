#include "transport/kafka/partition_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace ferry::kafka::detail {
namespace {

partition_window::delivery fetch(partition_window& w, std::int64_t offset) {
  auto d = w.fetched(offset);
  EXPECT_TRUE(d.has_value()) << "offset " << offset << " was not delivered";
  return d.value_or(partition_window::delivery{});
}

TEST(PartitionWindow, OutOfOrderAcksCommitOnlyTheSettledPrefix) {
  partition_window w;
  std::vector<partition_window::delivery> d;
  for (int o = 10; o < 15; ++o) d.push_back(fetch(w, o));
  EXPECT_EQ(w.commit_position(), 10) << "the group's start";
  w.committed(10);
  EXPECT_EQ(w.commit_position(), std::nullopt);
  EXPECT_EQ(w.position(), 10) << "what a revoke commits again, sent or not";
  EXPECT_TRUE(w.settle(12, d[2].serial));
  EXPECT_TRUE(w.settle(14, d[4].serial));
  EXPECT_EQ(w.commit_position(), std::nullopt) << "10 is unsettled: nothing may be committed";
  EXPECT_TRUE(w.settle(10, d[0].serial));
  EXPECT_EQ(w.commit_position(), 11);
  w.committed(11);
  EXPECT_TRUE(w.settle(11, d[1].serial));
  EXPECT_EQ(w.commit_position(), 13) << "11 and 12 settled, 13 not";
  EXPECT_TRUE(w.settle(13, d[3].serial));
  EXPECT_EQ(w.commit_position(), 15);
  EXPECT_EQ(w.unsettled(), 0u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(PartitionWindow, RandomSettlementOrderNeverCommitsPastAnUnsettledOffset) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    partition_window w;
    std::vector<partition_window::delivery> d;
    for (int o = 0; o < 64; ++o) d.push_back(fetch(w, o));
    std::vector<int> order(64);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> settled(64, false);
    for (int o : order) {
      ASSERT_TRUE(w.settle(o, d[o].serial));
      settled[o] = true;
      const auto first_unsettled = std::find(settled.begin(), settled.end(), false) - settled.begin();
      if (auto p = w.commit_position()) {
        EXPECT_EQ(*p, first_unsettled);
        w.committed(*p);
      }
    }
    EXPECT_EQ(w.unsettled(), 0u);
  }
}

// A compacted topic keeps few records of a key updated millions of times: offsets 0, 50,000,000,
// 90,000,000... A window that kept a slot per offset from the first unsettled one would hold
// gigabytes here.
TEST(PartitionWindow, AGapOfMillionsOfOffsetsTakesNoRoom) {
  partition_window w;
  auto a = fetch(w, 0);
  auto b = fetch(w, 50'000'000);
  auto c = fetch(w, 90'000'000);
  EXPECT_EQ(w.size(), 3u);
  EXPECT_TRUE(w.settle(50'000'000, b.serial));
  EXPECT_EQ(w.commit_position(), 0) << "0 is unsettled";
  EXPECT_TRUE(w.settle(0, a.serial));
  EXPECT_EQ(w.commit_position(), 90'000'000) << "what lies between is not in the log";
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(w.settle(90'000'000, c.serial));
  EXPECT_EQ(w.commit_position(), 90'000'001);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_TRUE(fetch(w, 200'000'000).count == 1);
  EXPECT_EQ(w.size(), 1u);
}

TEST(PartitionWindow, ARewindAcrossGapsRedeliversWhatTheLogHas) {
  partition_window w;
  auto a = fetch(w, 3);
  auto b = fetch(w, 9);  // 4..8: transaction markers, or compacted away
  auto c = fetch(w, 10);
  EXPECT_TRUE(w.settle(10, c.serial));
  EXPECT_TRUE(w.rewind(3, a.serial));
  EXPECT_FALSE(w.settle(9, b.serial)) << "rewound with 3: that delivery no longer counts";
  EXPECT_EQ(w.take_rewind(), 3);
  EXPECT_EQ(fetch(w, 3).count, 2u);
  auto again = fetch(w, 9);
  EXPECT_EQ(again.count, 1u) << "cut short by 3's nack";
  EXPECT_TRUE(again.redelivered);
  EXPECT_FALSE(w.fetched(10).has_value()) << "settled before the rewind";
  EXPECT_TRUE(w.settle(9, again.serial));
  EXPECT_EQ(w.commit_position(), 3);
}

// Random gaps and a random settlement order: the commit position is always the first offset
// fetched and not settled (or one past the last, once all are).
TEST(PartitionWindow, RandomGapsAndOrderNeverCommitPastAnUnsettledOffset) {
  std::mt19937 rng(11);
  for (int round = 0; round < 50; ++round) {
    partition_window w;
    std::vector<std::int64_t> offsets;
    std::vector<partition_window::delivery> d;
    for (std::int64_t o = 0; offsets.size() < 64;
         o += 1 + static_cast<std::int64_t>(rng() % 4 == 0 ? rng() % 1000 : 0)) {
      offsets.push_back(o);
      d.push_back(fetch(w, o));
    }
    std::vector<std::size_t> order(offsets.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> settled(offsets.size(), false);
    for (std::size_t i : order) {
      ASSERT_TRUE(w.settle(offsets[i], d[i].serial));
      settled[i] = true;
      const auto first = static_cast<std::size_t>(std::find(settled.begin(), settled.end(), false) - settled.begin());
      const std::int64_t expected = first < offsets.size() ? offsets[first] : offsets.back() + 1;
      if (auto p = w.commit_position()) {
        EXPECT_EQ(*p, expected);
        w.committed(*p);
      }
      EXPECT_EQ(w.size(), offsets.size() - first);
    }
    EXPECT_EQ(w.unsettled(), 0u);
  }
}

TEST(PartitionWindow, SettlingTwiceOrWithAnOldSerialDoesNothing) {
  partition_window w;
  auto a = fetch(w, 0);
  EXPECT_TRUE(w.settle(0, a.serial));
  EXPECT_FALSE(w.settle(0, a.serial));
  EXPECT_FALSE(w.settle(7, 1)) << "never delivered";
  EXPECT_EQ(w.commit_position(), 1);
}

TEST(PartitionWindow, RewindRedeliversTheNackedAndLaterUnsettledButSkipsSettledOnes) {
  partition_window w;
  std::vector<partition_window::delivery> d;
  for (int o = 0; o < 5; ++o) d.push_back(fetch(w, o));
  EXPECT_TRUE(w.settle(0, d[0].serial));
  EXPECT_TRUE(w.settle(3, d[3].serial));
  EXPECT_TRUE(w.rewind(1, d[1].serial));  // 1 nacked: 1, 2 and 4 come again, 3 stays acked
  EXPECT_EQ(w.unsettled(), 0u);
  EXPECT_EQ(w.pending_rewind(), 1);
  EXPECT_FALSE(w.fetched(5).has_value()) << "before the seek back, nothing past the rewind is delivered";
  EXPECT_FALSE(w.settle(2, d[2].serial)) << "the old delivery of 2 no longer counts";
  EXPECT_FALSE(w.rewind(4, d[4].serial));
  EXPECT_EQ(w.take_rewind(), 1);
  EXPECT_EQ(w.pending_rewind(), std::nullopt);

  auto r1 = fetch(w, 1);
  EXPECT_EQ(r1.count, 2u) << "nacked: its delivery counts";
  EXPECT_TRUE(r1.redelivered);
  auto r2 = fetch(w, 2);
  EXPECT_EQ(r2.count, 1u) << "cut short by 1's nack: not counted";
  EXPECT_TRUE(r2.redelivered);
  EXPECT_FALSE(w.fetched(3).has_value()) << "acked before the rewind: not delivered again";
  auto r4 = fetch(w, 4);
  EXPECT_EQ(r4.count, 1u);
  EXPECT_TRUE(r4.redelivered);
  auto f5 = fetch(w, 5);
  EXPECT_EQ(f5.count, 1u);
  EXPECT_FALSE(f5.redelivered);
  EXPECT_EQ(w.commit_position(), 1);
  w.committed(1);
  for (auto [o, s] : {std::pair{1, r1.serial}, {2, r2.serial}, {4, r4.serial}, {5, f5.serial}}) {
    EXPECT_TRUE(w.settle(o, s)) << o;
  }
  EXPECT_EQ(w.commit_position(), 6);
}

// A poison message nacked five times while the next one is still in a slow handler each time: the
// poison one's count grows to 6 (max_deliver 5 takes it), the healthy one's stays 1.
TEST(PartitionWindow, AMessageBehindAFailingOneDoesNotCountItsNacks) {
  partition_window w;
  auto poison = fetch(w, 0);
  auto healthy = fetch(w, 1);
  for (std::uint32_t i = 2; i <= 6; ++i) {
    ASSERT_TRUE(w.rewind(0, poison.serial));
    EXPECT_FALSE(w.settle(1, healthy.serial)) << "cut short by the rewind";
    EXPECT_EQ(w.take_rewind(), 0);
    poison = fetch(w, 0);
    healthy = fetch(w, 1);
    EXPECT_EQ(poison.count, i);
    EXPECT_EQ(healthy.count, 1u);
    EXPECT_TRUE(healthy.redelivered);
  }
  EXPECT_TRUE(w.settle(1, healthy.serial));
  EXPECT_TRUE(w.settle(0, poison.serial));
  EXPECT_EQ(w.commit_position(), 2);
}

TEST(PartitionWindow, TheLowestOfSeveralRewindsWins) {
  partition_window w;
  std::vector<partition_window::delivery> d;
  for (int o = 0; o < 6; ++o) d.push_back(fetch(w, o));
  EXPECT_TRUE(w.rewind(4, d[4].serial));
  EXPECT_TRUE(w.rewind(2, d[2].serial));
  EXPECT_FALSE(w.rewind(5, d[5].serial)) << "5 was rewound with 4 already";
  EXPECT_EQ(w.take_rewind(), 2);
  EXPECT_EQ(fetch(w, 2).count, 2u);
}

TEST(PartitionWindow, RewindWithoutDeliveryForRetryMessagesThatAreNotDue) {
  partition_window w;
  auto a = fetch(w, 0);
  w.rewind_to(1);  // offset 1 arrived early: the log goes back to it later
  EXPECT_EQ(w.pending_rewind(), 1);
  EXPECT_TRUE(w.settle(0, a.serial));
  EXPECT_EQ(w.commit_position(), 1);
  EXPECT_EQ(w.take_rewind(), 1);
  EXPECT_EQ(fetch(w, 1).count, 1u) << "not delivered before, so this is the first delivery";
}

TEST(PartitionWindow, OffsetsBelowTheSettledPrefixAreSkipped) {
  partition_window w;
  auto a = fetch(w, 5);
  EXPECT_TRUE(w.settle(5, a.serial));
  EXPECT_FALSE(w.fetched(3).has_value());
  EXPECT_FALSE(w.fetched(5).has_value());
  EXPECT_TRUE(w.fetched(6).has_value());
}

TEST(PartitionWindow, ARefetchOfAPendingOffsetReplacesItsDelivery) {
  partition_window w;
  auto first = fetch(w, 0);
  auto again = fetch(w, 0);
  EXPECT_EQ(again.count, 2u);
  EXPECT_EQ(w.unsettled(), 1u);
  EXPECT_FALSE(w.settle(0, first.serial));
  EXPECT_TRUE(w.settle(0, again.serial));
  EXPECT_EQ(w.unsettled(), 0u);
}

TEST(PartitionWindow, AKeyIsBusyWhileOneOfItsDeliveriesIsUnsettled) {
  partition_window w;
  auto a = w.fetched(0, partition_window::key_hash("a"));
  auto b = w.fetched(1, partition_window::key_hash("b"));
  auto a2 = w.fetched(2, partition_window::key_hash("a"));
  ASSERT_TRUE(a && b && a2);
  auto anon = w.fetched(3, partition_window::key_hash(""));
  EXPECT_TRUE(w.busy(partition_window::key_hash("a")));
  EXPECT_TRUE(w.busy(partition_window::key_hash("b")));
  EXPECT_FALSE(w.busy(partition_window::key_hash("c")));
  EXPECT_FALSE(w.busy(partition_window::key_hash(""))) << "no key, no order to keep";
  EXPECT_TRUE(w.settle(0, a->serial));
  EXPECT_TRUE(w.busy(partition_window::key_hash("a"))) << "offset 2 still holds a";
  EXPECT_TRUE(w.rewind(1, b->serial));
  EXPECT_FALSE(w.busy(partition_window::key_hash("b")));
  EXPECT_FALSE(w.busy(partition_window::key_hash("a"))) << "offset 2 was rewound with 1";
  EXPECT_EQ(w.take_rewind(), 1);
  auto again = w.fetched(2, partition_window::key_hash("a"));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(w.busy(partition_window::key_hash("a")));
  EXPECT_TRUE(w.settle(2, again->serial));
  EXPECT_FALSE(w.busy(partition_window::key_hash("a")));
  (void)anon;
}

TEST(PartitionWindow, AHeldOffsetKeepsTheCommitPositionBelowIt) {
  partition_window w;
  auto a0 = fetch(w, 0);
  EXPECT_TRUE(w.hold(1));  // behind offset 0's key
  auto b2 = fetch(w, 2);
  EXPECT_TRUE(w.settle(2, b2.serial));
  EXPECT_TRUE(w.settle(0, a0.serial));
  EXPECT_EQ(w.commit_position(), 1) << "1 is held, not settled";
  auto a1 = fetch(w, 1);
  EXPECT_EQ(a1.count, 1u) << "held is not a delivery";
  EXPECT_TRUE(w.settle(1, a1.serial));
  EXPECT_EQ(w.commit_position(), 3);
}

TEST(PartitionWindow, HeldOffsetsSurviveARewindAndComeAgainUndelivered) {
  partition_window w;
  auto a0 = fetch(w, 0);
  auto b1 = fetch(w, 1);
  EXPECT_TRUE(w.hold(2));
  EXPECT_TRUE(w.rewind(1, b1.serial));
  EXPECT_FALSE(w.hold(3)) << "past the rewind still owed";
  EXPECT_EQ(w.take_rewind(), 1);
  EXPECT_EQ(fetch(w, 1).count, 2u);
  EXPECT_TRUE(w.hold(2)) << "the log brings the held offset again";
  EXPECT_EQ(fetch(w, 2).count, 1u);
  EXPECT_TRUE(w.settle(0, a0.serial));
  EXPECT_EQ(w.commit_position(), 1);
}

}  // namespace
}  // namespace ferry::kafka::detail
