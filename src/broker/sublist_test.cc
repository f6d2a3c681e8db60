#include "broker/sublist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

namespace ferry::broker {
namespace {

// A target that only records its id, for index tests.
class fake_target : public delivery_target {
 public:
  explicit fake_target(std::uint64_t id) : id_(id) {}
  bool deliver(subscription&, const routed_message&, worker*) override { return true; }
  [[nodiscard]] std::uint64_t client_id() const override { return id_; }

 private:
  std::uint64_t id_;
};

struct fixture {
  sublist sl;
  std::shared_ptr<fake_target> t = std::make_shared<fake_target>(1);
  subscription_ptr add(const std::string& subject, const std::string& queue = "", const std::string& sid = "") {
    auto s = std::make_shared<subscription>(t, subject, queue, sid.empty() ? subject + "/" + queue : sid);
    EXPECT_TRUE(sl.insert(s).is_ok()) << subject;
    return s;
  }
  std::set<std::string> plain(std::string_view subject) {
    std::set<std::string> out;
    match_ptr r = sl.match(subject);
    for (const auto& s : r->plain) out.insert(s->subject);
    return out;
  }
};

TEST(Sublist, LiteralAndWildcards) {
  fixture f;
  f.add("foo.bar");
  f.add("foo.*");
  f.add("foo.>");
  f.add("*.bar");
  f.add(">");
  f.add("foo.bar.baz");
  EXPECT_EQ(f.plain("foo.bar"), (std::set<std::string>{"foo.bar", "foo.*", "foo.>", "*.bar", ">"}));
  EXPECT_EQ(f.plain("foo.bar.baz"), (std::set<std::string>{"foo.>", ">", "foo.bar.baz"}));
  EXPECT_EQ(f.plain("foo"), (std::set<std::string>{">"}));
  EXPECT_EQ(f.plain("x.bar"), (std::set<std::string>{"*.bar", ">"}));
}

TEST(Sublist, InvalidSubjects) {
  fixture f;
  f.add(">");
  auto bad = std::make_shared<subscription>(f.t, "foo..bar", "", "1");
  EXPECT_FALSE(f.sl.insert(bad).is_ok());
  EXPECT_TRUE(f.plain("foo..bar").empty());  // an invalid literal matches nothing
  EXPECT_TRUE(f.plain("").empty());
  EXPECT_TRUE(f.plain("foo.").empty());
}

TEST(Sublist, WildcardTokenPublishedLiterally) {
  fixture f;
  f.add("foo.*");
  f.add("foo.bar");
  EXPECT_EQ(f.plain("foo.*"), (std::set<std::string>{"foo.*"}));
}

TEST(Sublist, EveryOverlappingSubscriptionMatches) {
  fixture f;
  f.add("a.b", "", "1");
  f.add("a.b", "", "2");
  EXPECT_EQ(f.sl.match("a.b")->plain.size(), 2u);
}

TEST(Sublist, QueueGroupsMergeByNameAcrossLevels) {
  fixture f;
  f.add("orders.*", "workers", "1");
  f.add("orders.>", "workers", "2");
  f.add("orders.new", "audit", "3");
  f.add("orders.new", "", "4");
  auto r = f.sl.match("orders.new");
  ASSERT_EQ(r->plain.size(), 1u);
  ASSERT_EQ(r->queues.size(), 2u);
  for (const auto& g : r->queues) {
    if (g.name == "workers") {
      EXPECT_EQ(g.members.size(), 2u);
    }
    if (g.name == "audit") {
      EXPECT_EQ(g.members.size(), 1u);
    }
  }
}

TEST(Sublist, RemoveAndPrune) {
  fixture f;
  auto a = f.add("a.b.c");
  auto b = f.add("a.*.c");
  auto q = f.add("a.b.c", "q");
  EXPECT_EQ(f.sl.stats().subscriptions, 3u);
  EXPECT_TRUE(f.sl.remove(a));
  EXPECT_FALSE(f.sl.remove(a));
  EXPECT_EQ(f.plain("a.b.c"), (std::set<std::string>{"a.*.c"}));
  EXPECT_TRUE(f.sl.remove(q));
  EXPECT_TRUE(f.sl.match("a.b.c")->queues.empty());
  EXPECT_TRUE(f.sl.remove(b));
  EXPECT_TRUE(f.sl.match("a.b.c")->empty());
  EXPECT_EQ(f.sl.stats().subscriptions, 0u);
  std::size_t left = 0;
  f.sl.for_each([&](const subscription_ptr&) { ++left; });
  EXPECT_EQ(left, 0u);
}

TEST(Sublist, GenerationBumpsOnChange) {
  fixture f;
  const auto g0 = f.sl.generation();
  auto s = f.add("x");
  EXPECT_GT(f.sl.generation(), g0);
  const auto g1 = f.sl.generation();
  f.sl.remove(s);
  EXPECT_GT(f.sl.generation(), g1);
}

TEST(MatchCache, SeesChangesImmediately) {
  fixture f;
  match_cache cache(f.sl);
  EXPECT_TRUE(cache.match("a.b").empty());
  auto s = f.add("a.*");
  EXPECT_EQ(cache.match("a.b").plain.size(), 1u);
  EXPECT_EQ(cache.match("a.b").plain.size(), 1u);
  EXPECT_GE(cache.hits(), 1u);
  f.sl.remove(s);
  EXPECT_TRUE(cache.match("a.b").empty());
}

TEST(MatchCache, BoundedSize) {
  fixture f;
  f.add(">");
  match_cache cache(f.sl, 16);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cache.match("s" + std::to_string(i)).plain.size(), 1u);
  EXPECT_LE(cache.size(), 16u);
}

// Acks and replies are new on every message: they are matched, but do not push the repeated
// subjects out of the cache.
TEST(MatchCache, OneOffSubjectsAreMatchedButNotStored) {
  fixture f;
  f.add("orders.*");
  auto acks = f.add("$JS.ACK.S.C.>");
  match_cache cache(f.sl, 16);
  EXPECT_EQ(cache.match("orders.new").plain.size(), 1u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(cache.match("$JS.ACK.S.C.1." + std::to_string(i) + ".1.0.0").plain.size(), 1u);
    EXPECT_EQ(cache.match("_INBOX.abc." + std::to_string(i)).plain.size(), 0u);
  }
  EXPECT_EQ(cache.size(), 1u) << "only orders.new is stored";
  const auto hits = cache.hits();
  EXPECT_EQ(cache.match("orders.new").plain.size(), 1u);
  EXPECT_EQ(cache.hits(), hits + 1) << "and it is still there";
  f.sl.remove(acks);
  EXPECT_TRUE(cache.match("$JS.ACK.S.C.1.1.1.0.0").empty()) << "a one-off subject sees changes at once";
}

// Subscriptions change on one thread while another matches through its cache: every match
// taken after a change returned must reflect it, and a removed subscription's result stays
// valid memory for the holder.
TEST(MatchCache, InvalidationUnderConcurrentChanges) {
  fixture f;
  // phase % 4: 0 absent, 1 being added, 2 present, 3 being removed.
  std::atomic<int> phase{0};
  std::atomic<bool> stop{false};
  std::atomic<long> checks{0};
  std::thread reader([&] {
    match_cache cache(f.sl);
    while (!stop.load()) {
      const int before = phase.load(std::memory_order_acquire);
      const bool present = !cache.match("live.key").plain.empty();
      const int after = phase.load(std::memory_order_acquire);
      if (before == after && before % 2 == 0) {
        // No change overlapped the match, so the answer must agree with the phase.
        ASSERT_EQ(present, before % 4 == 2) << "phase " << before;
        ++checks;
      }
    }
  });
  for (int i = 0; i < 2000; ++i) {
    phase.fetch_add(1, std::memory_order_release);
    auto s = f.add("live.*", "", "x");
    phase.fetch_add(1, std::memory_order_release);
    std::this_thread::yield();
    phase.fetch_add(1, std::memory_order_release);
    f.sl.remove(s);
    phase.fetch_add(1, std::memory_order_release);
    std::this_thread::yield();
  }
  stop = true;
  reader.join();
  EXPECT_GT(checks.load(), 100);
}

}  // namespace
}  // namespace ferry::broker
