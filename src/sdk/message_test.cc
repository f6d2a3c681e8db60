// message: settlement shared by copies, first decision wins, hooks, and the settler's lifetime
// (release() once the last copy is gone; a settler from a settler_pool serves again only once released).
#include "ferry/message.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/settler_pool.h"

namespace ferry {
namespace {

struct calls {
  int acks = 0, nacks = 0, terms = 0, progress = 0, released = 0;
  std::chrono::milliseconds delay{0};
  std::string reason;
};

class counting_settler : public settler {
 public:
  explicit counting_settler(calls& c) : c_(c) {}
  void ack() override { ++c_.acks; }
  void nack(std::chrono::milliseconds d) override {
    ++c_.nacks;
    c_.delay = d;
  }
  void term(std::string_view r) override {
    ++c_.terms;
    c_.reason = std::string(r);
  }
  void in_progress() override { ++c_.progress; }

 private:
  void release() override {
    ++c_.released;
    delete this;
  }
  calls& c_;
};

message delivered(calls& c) {
  message m("orders.created", "{}");
  m.attach(std::make_unique<counting_settler>(c));
  return m;
}

TEST(Message, NotDeliveredCannotBeSettled) {
  message m("a", "b");
  EXPECT_FALSE(m.is_delivered());
  EXPECT_FALSE(m.ack());
  EXPECT_FALSE(m.nack());
  EXPECT_FALSE(m.term("x"));
  EXPECT_EQ(m.state(), settlement::pending);
  bool ran = false;
  m.on_settled([&](settlement) { ran = true; });
  EXPECT_FALSE(ran);
}

TEST(Message, FirstDecisionWinsAcrossCopies) {
  calls c;
  {
    message m = delivered(c);
    message copy = m;
    EXPECT_TRUE(m.is_delivered());
    copy.in_progress();
    EXPECT_TRUE(copy.nack(std::chrono::milliseconds(250)));
    EXPECT_FALSE(m.ack());
    EXPECT_FALSE(m.term("late"));
    EXPECT_EQ(m.state(), settlement::nacked);
    m.in_progress();  // settled: no longer passed on
  }
  EXPECT_EQ(c.nacks, 1);
  EXPECT_EQ(c.delay, std::chrono::milliseconds(250));
  EXPECT_EQ(c.acks + c.terms, 0);
  EXPECT_EQ(c.progress, 1);
}

TEST(Message, ReleasedOnceWhenTheLastCopyIsGone) {
  calls c;
  auto m = std::make_unique<message>(delivered(c));
  std::vector<message> copies(3, *m);
  message moved = std::move(copies[0]);
  m.reset();
  copies.clear();
  EXPECT_EQ(c.released, 0) << "a copy still refers to the delivery";
  EXPECT_TRUE(moved.term("poison"));
  EXPECT_EQ(c.reason, "poison");
  moved = message("other", "x");  // assignment drops the reference too
  EXPECT_EQ(c.released, 1);
}

TEST(Message, HooksRunOnceAfterSettlementOrAtOnce) {
  calls c;
  message m = delivered(c);
  std::vector<settlement> seen;
  m.on_settled([&](settlement s) { seen.push_back(s); });
  EXPECT_TRUE(seen.empty());
  message copy = m;
  EXPECT_TRUE(copy.ack());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], settlement::acked);
  m.on_settled([&](settlement s) { seen.push_back(s); });  // already settled: runs here
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], settlement::acked);
  EXPECT_FALSE(m.nack());
  EXPECT_EQ(seen.size(), 2u);
}

// A transport's pooled settler: release() hands it back to its settler_pool; start() (reset())
// readies it for the next delivery.
class pooled_settler : public settler {
 public:
  void start(settler_pool<pooled_settler>* pool) {
    reset();
    pool_ = pool;
  }
  void ack() override { acks.fetch_add(1); }
  void nack(std::chrono::milliseconds) override {}
  void term(std::string_view) override {}
  std::atomic<int> acks{0};
  pooled_settler* pool_next = nullptr;

 private:
  void release() override { pool_->give_back(this); }
  settler_pool<pooled_settler>* pool_ = nullptr;
};

// A delivered message with a settler from `pool`.
message delivered(settler_pool<pooled_settler>& pool, std::string payload) {
  message m("a", std::move(payload));
  pooled_settler* s = pool.take();
  s->start(&pool);
  m.attach(s);
  return m;
}

TEST(Message, PooledSettlerServesAgainOnlyOnceReleased) {
  settler_pool<pooled_settler> pool;
  message first = delivered(pool, "1");
  first.on_settled([](settlement) {});
  EXPECT_TRUE(first.ack());
  message copy = first;
  first = message();
  // A copy still refers to the first delivery: the next one gets another settler.
  message second = delivered(pool, "2");
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(second.state(), settlement::pending);
  copy = message();
  // Released: the third delivery reuses it, unsettled and without the old hook.
  message third = delivered(pool, "3");
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(third.state(), settlement::pending);
  EXPECT_TRUE(third.ack());
  EXPECT_FALSE(third.nack());
  EXPECT_EQ(second.state(), settlement::pending);  // untouched by the settlements of the others
  third.attach(nullptr);                           // detaching drops the reference too
  EXPECT_FALSE(third.is_delivered());
  EXPECT_EQ(delivered(pool, "4").state(), settlement::pending);
  EXPECT_EQ(pool.size(), 2u);
}

// Settlers given back from many threads at once are each taken again exactly once.
TEST(Message, PooledSettlersGivenBackFromManyThreads) {
  settler_pool<pooled_settler> pool;
  constexpr int threads = 4, per_thread = 500;
  std::vector<std::vector<message>> batches(threads);
  for (auto& b : batches) {
    for (int i = 0; i < per_thread; ++i) b.push_back(delivered(pool, std::to_string(i)));
  }
  ASSERT_EQ(pool.size(), static_cast<std::size_t>(threads * per_thread));
  std::vector<std::thread> ts;
  for (auto& b : batches) {
    ts.emplace_back([&b] {
      for (message& m : b) m.ack();
      b.clear();  // releases every settler of the batch
    });
  }
  for (auto& t : ts) t.join();
  std::set<pooled_settler*> again;
  for (int i = 0; i < threads * per_thread; ++i) {
    pooled_settler* s = pool.take();
    EXPECT_EQ(s->acks.load(), 1);
    again.insert(s);
  }
  EXPECT_EQ(again.size(), static_cast<std::size_t>(threads * per_thread));
  EXPECT_EQ(pool.size(), static_cast<std::size_t>(threads * per_thread));  // none made anew
  for (pooled_settler* s : again) pool.give_back(s);
}

}  // namespace
}  // namespace ferry
