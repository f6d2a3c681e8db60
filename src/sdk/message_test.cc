// message: settlement shared by copies, first decision wins, hooks, and the settler's lifetime
// (release() once the last copy is gone; a pooled settler starts over after reset()).
#include "ferry/message.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

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

// A transport's pool: release() hands the settler back; reset() readies it for the next delivery.
class pooled_settler : public settler {
 public:
  explicit pooled_settler(std::vector<pooled_settler*>& pool) : pool_(pool) {}
  void ack() override { ++acks; }
  void nack(std::chrono::milliseconds) override {}
  void term(std::string_view) override {}
  void reuse() { reset(); }
  int acks = 0;

 private:
  void release() override { pool_.push_back(this); }
  std::vector<pooled_settler*>& pool_;
};

TEST(Message, PooledSettlerStartsOverAfterReset) {
  std::vector<pooled_settler*> pool;
  pooled_settler s(pool);
  {
    message first("a", "1");
    first.attach(&s);
    first.on_settled([](settlement) {});
    EXPECT_TRUE(first.ack());
    EXPECT_TRUE(pool.empty());
  }
  ASSERT_EQ(pool.size(), 1u);
  pool.clear();
  s.reuse();
  message second("a", "2");
  second.attach(&s);
  EXPECT_EQ(second.state(), settlement::pending);
  EXPECT_TRUE(second.ack());
  EXPECT_EQ(s.acks, 2);
  second.attach(nullptr);  // detaching drops the reference
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_FALSE(second.is_delivered());
}

}  // namespace
}  // namespace ferry
