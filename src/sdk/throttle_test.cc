#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using namespace std::chrono_literals;
using testing::chain_runner;

TEST(ThrottleTest, BurstThenTheRateAcrossWorkers) {
  std::atomic<int> calls{0};
  chain_runner c({throttle(10, 50ms)}, [&](message&) {  // a burst of 10, then one per 5 ms
    ++calls;
    return outcome::ack();
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) c.run(message("in", ""));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 40ms);  // without the burst: 45 ms
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w)
    workers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) c.run(message("in", ""));
    });
  for (auto& t : workers) t.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(calls.load(), 40);
  EXPECT_GE(took, 145ms);  // 30 calls after the burst at 5 ms each
  EXPECT_LT(took, 1s);
}

TEST(ThrottleTest, RouterStopEndsTheWaitAndNacks) {
  chain_runner c({throttle(1, 10s)}, [](message&) { return outcome::ack(); });
  EXPECT_EQ(c.run(message("in", "")).state, settlement::acked);
  std::thread stopper([&] {
    std::this_thread::sleep_for(10ms);
    c.stop.request_stop();
  });
  auto r = c.run(message("in", ""));
  stopper.join();
  EXPECT_EQ(r.state, settlement::nacked);
}

}  // namespace
}  // namespace ferry::middleware
