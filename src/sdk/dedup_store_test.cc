// One suite over every dedup_store (memory and sqlite), then what is particular to each.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "ferry/dedup.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using reservation = dedup_store::reservation;

std::string temp_db(std::string_view name) {
  static std::atomic<int> n{0};
  return ::testing::TempDir() + "ferry_dedup_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" +
         std::string(name) + ".db";
}

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

struct store_factory {
  std::string name;
  std::function<std::unique_ptr<dedup_store>(const std::string& path)> make;
};

class DedupStoreTest : public ::testing::TestWithParam<store_factory> {
 protected:
  void SetUp() override {
    path_ = temp_db(GetParam().name);
    store_ = GetParam().make(path_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    remove_db(path_);
  }
  std::string path_;
  std::unique_ptr<dedup_store> store_;
};

TEST_P(DedupStoreTest, ReserveCommitThenDuplicate) {
  EXPECT_EQ(*store_->reserve("a", 1min), reservation::reserved);
  EXPECT_EQ(*store_->reserve("a", 1min), reservation::in_flight);
  ASSERT_TRUE(store_->commit("a", 1min).is_ok());
  EXPECT_EQ(*store_->reserve("a", 1min), reservation::duplicate);
  EXPECT_EQ(*store_->reserve("b", 1min), reservation::reserved);
}

TEST_P(DedupStoreTest, ReleaseLetsTheKeyBeReservedAgainButKeepsCommits) {
  EXPECT_EQ(*store_->reserve("a", 1min), reservation::reserved);
  ASSERT_TRUE(store_->release("a").is_ok());
  EXPECT_EQ(*store_->reserve("a", 1min), reservation::reserved);
  ASSERT_TRUE(store_->commit("a", 1min).is_ok());
  ASSERT_TRUE(store_->release("a").is_ok());
  EXPECT_EQ(*store_->reserve("a", 1min), reservation::duplicate);
  EXPECT_TRUE(store_->release("never-seen").is_ok());
}

TEST_P(DedupStoreTest, EntriesExpire) {
  EXPECT_EQ(*store_->reserve("held", 20ms), reservation::reserved);  // its owner died
  ASSERT_TRUE(store_->commit("done", 20ms).is_ok());
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(*store_->reserve("held", 1min), reservation::reserved);
  EXPECT_EQ(*store_->reserve("done", 1min), reservation::reserved);
}

TEST_P(DedupStoreTest, ConcurrentReservationsOfOneKeyHaveOneWinner) {
  std::atomic<int> reserved{0}, others{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = store_->reserve("same", 1min);
      ASSERT_TRUE(r.is_ok());
      (*r == reservation::reserved ? reserved : others)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reserved.load(), 1);
  EXPECT_EQ(others.load(), 7);
}

INSTANTIATE_TEST_SUITE_P(Stores, DedupStoreTest,
                         ::testing::Values(store_factory{"memory",
                                                         [](const std::string&) -> std::unique_ptr<dedup_store> {
                                                           return std::make_unique<memory_dedup_store>();
                                                         }},
                                           store_factory{"sqlite",
                                                         [](const std::string& path) -> std::unique_ptr<dedup_store> {
                                                           auto s = sqlite_dedup_store::open(path);
                                                           return s.is_ok() ? std::move(s).value() : nullptr;
                                                         }}),
                         [](const auto& info) { return info.param.name; });

TEST(MemoryDedupStoreTest, IsBoundedAndForgetsTheOldestFirst) {
  memory_dedup_store s({.max_keys = 3});
  for (const char* k : {"a", "b", "c", "d"}) ASSERT_TRUE(s.commit(k, 1min).is_ok());
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(*s.reserve("a", 1min), reservation::reserved);  // forgotten
  EXPECT_EQ(*s.reserve("d", 1min), reservation::duplicate);
}

TEST(MemoryDedupStoreTest, ManyRewritesOfOneKeyStaySmall) {
  memory_dedup_store s({.max_keys = 10});
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_EQ(*s.reserve("k", 1min), reservation::reserved);
    ASSERT_TRUE(s.release("k").is_ok());
  }
  ASSERT_TRUE(s.commit("k", 1min).is_ok());
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(*s.reserve("k", 1min), reservation::duplicate);
}

TEST(MemoryDedupStoreTest, AgreesWithAModelUnderRandomOperations) {
  // Far below max_keys: nothing is evicted, so a map is the whole truth.
  memory_dedup_store s({.max_keys = 100'000});
  std::map<std::string, bool> model;  // key -> committed
  std::mt19937 rng(7);
  for (int i = 0; i < 20'000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 300);
    switch (rng() % 3) {
      case 0: {
        auto it = model.find(key);
        const reservation want = it == model.end() ? reservation::reserved
                                 : it->second      ? reservation::duplicate
                                                   : reservation::in_flight;
        ASSERT_EQ(*s.reserve(key, 1h), want) << i;
        if (it == model.end()) model[key] = false;
        break;
      }
      case 1:
        ASSERT_TRUE(s.commit(key, 1h).is_ok());
        model[key] = true;
        break;
      case 2:
        ASSERT_TRUE(s.release(key).is_ok());
        if (auto it = model.find(key); it != model.end() && !it->second) model.erase(it);
        break;
    }
    ASSERT_EQ(s.size(), model.size()) << i;
  }
}

TEST(SqliteDedupStoreTest, TwoConnectionsShareKeysInWalMode) {
  const std::string path = temp_db("shared");
  {
    auto a = sqlite_dedup_store::open(path);
    auto b = sqlite_dedup_store::open(path);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_EQ(*(*a)->reserve("k", 1min), reservation::reserved);
    EXPECT_EQ(*(*b)->reserve("k", 1min), reservation::in_flight);
    ASSERT_TRUE((*a)->commit("k", 1min).is_ok());
    EXPECT_EQ(*(*b)->reserve("k", 1min), reservation::duplicate);
    EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
  }
  auto reopened = sqlite_dedup_store::open(path);
  ASSERT_TRUE(reopened.is_ok());
  EXPECT_EQ(*(*reopened)->reserve("k", 1min), reservation::duplicate);  // it is a file
  remove_db(path);
}

TEST(SqliteDedupStoreTest, AnotherProcessSeesCommittedKeys) {
  const std::string path = temp_db("fork");
  {
    auto s = sqlite_dedup_store::open(path);
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->commit("from-parent", 1min).is_ok());
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // In the child: a fresh connection, like another service instance.
    auto s = sqlite_dedup_store::open(path);
    bool ok = s.is_ok() && *(*s)->reserve("from-parent", 1min) == reservation::duplicate &&
              (*s)->commit("from-child", 1min).is_ok();
    ::_exit(ok ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  auto s = sqlite_dedup_store::open(path);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(*(*s)->reserve("from-child", 1min), reservation::duplicate);
  remove_db(path);
}

TEST(SqliteDedupStoreTest, OpenFailsOnAnUnusablePath) {
  auto s = sqlite_dedup_store::open("/nonexistent-dir/x/y.db");
  EXPECT_FALSE(s.is_ok());
}

}  // namespace
}  // namespace ferry
