// The dedup middleware, over both stores.
#include "ferry/dedup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"
#include "sdk/test_util.h"

namespace ferry::middleware {
namespace {

using namespace std::chrono_literals;
using testing::chain_runner;

message with_id(std::string id) {
  message m("in", "");
  m.headers.set(std::string(header::message_id), std::move(id));
  return m;
}

TEST(DedupKeyTest, NatsMsgIdThenCloudEventsIdThenMessageId) {
  message m("in", "");
  m.id = "transport-id";
  EXPECT_EQ(default_dedup_key(m), "transport-id");
  m.headers.set("Content-Type", "application/cloudevents+json; charset=utf-8");
  m.payload = R"({"specversion":"1.0","id":"structured-id","source":"s","type":"t"})";
  EXPECT_EQ(default_dedup_key(m), "structured-id");
  m.headers.set("ce-id", "binary-id");
  EXPECT_EQ(default_dedup_key(m), "binary-id");
  m.headers.set(std::string(header::message_id), "nats-id");
  EXPECT_EQ(default_dedup_key(m), "nats-id");
  message none("in", "");
  EXPECT_EQ(default_dedup_key(none), "");
}

class DedupTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<memory_dedup_store>();
    } else {
      path_ = ::testing::TempDir() + "ferry_dedup_mw_" + std::to_string(::getpid()) + ".db";
      auto s = sqlite_dedup_store::open(path_);
      ASSERT_TRUE(s.is_ok());
      store_ = std::move(s).value();
    }
  }
  void TearDown() override {
    store_.reset();
    if (!path_.empty())
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  std::string path_;
  std::unique_ptr<dedup_store> store_;
};

TEST_P(DedupTest, DuplicateIsAckedWithoutCallingTheHandler) {
  std::atomic<int> calls{0};
  chain_runner c({dedup(*store_)}, [&](message&) {
    ++calls;
    return outcome::ack();
  });
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);
  EXPECT_EQ(c.run(with_id("m2")).state, settlement::acked);
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(DedupTest, FailedFirstAttemptIsHandledAgain) {
  int calls = 0;
  chain_runner c({dedup(*store_)},
                 [&](message&) { return ++calls == 1 ? outcome::retry(unavailable("db")) : outcome::ack(); });
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::nacked);
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);  // now a duplicate
  EXPECT_EQ(calls, 2);
}

TEST_P(DedupTest, DroppedMessageIsNotRemembered) {
  int calls = 0;
  chain_runner c({dedup(*store_)},
                 [&](message&) { return ++calls == 1 ? outcome::drop(invalid_argument("x")) : outcome::ack(); });
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::terminated);
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);
  EXPECT_EQ(calls, 2);
}

TEST_P(DedupTest, KeyIsCommittedOnlyOnceTheOutputsArePublished) {
  int calls = 0;
  chain_runner c({dedup(*store_)}, [&](message&) -> outcome {
    ++calls;
    return std::vector{message("out", "")};
  });
  c.out.fail_publishes(1);
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::nacked);  // handler said ack, publish failed
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);
  EXPECT_EQ(c.run(with_id("m1")).state, settlement::acked);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(c.out.published().size(), 1u);
}

TEST_P(DedupTest, ConcurrentDuplicatesRunTheHandlerOnce) {
  std::atomic<int> calls{0}, returned{0};
  testing::gate others_done;
  chain_runner c({dedup(*store_, {.in_flight_retry = 7ms})}, [&](message&) {
    ++calls;
    others_done.wait();  // hold the reservation while the duplicates arrive
    return outcome::ack();
  });
  std::vector<testing::run_result> results(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      results[i] = c.run(with_id("same"));
      if (++returned == 7) others_done.open();
    });
  }
  for (auto& t : threads) t.join();
  int acked = 0, retried = 0;
  for (auto& r : results) {
    if (r.state == settlement::acked) ++acked;
    if (r.state == settlement::nacked) {
      ++retried;
      EXPECT_EQ(r.delay, 7ms);
      EXPECT_EQ(r.result.why().code(), status_code::already_exists);
    }
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(retried, 7);
  EXPECT_EQ(c.run(with_id("same")).state, settlement::acked);  // redelivered later: a duplicate
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(DedupTest, CustomKeyAndMessagesWithoutKeyPassThrough) {
  int calls = 0;
  chain_runner c({dedup(*store_, {.key = [](const message& m) { return m.payload; }})}, [&](message&) {
    ++calls;
    return outcome::ack();
  });
  c.run(message("in", "p"));
  c.run(message("in", "p"));
  c.run(message("in", ""));  // empty key: not deduplicated
  c.run(message("in", ""));
  EXPECT_EQ(calls, 3);
}

INSTANTIATE_TEST_SUITE_P(Stores, DedupTest, ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ferry::middleware
