// redis_member: one member of a consumer group on the ferry Redis transport, in a process of its
// own, for the test that kills a member with SIGKILL.
//
//   redis_member ADDRESS STREAM GROUP CONSUMER ACK
//
// Acks the first ACK messages it receives and keeps every later one unsettled. Prints
// "acked <payload>" for each ack and, once it holds unsettled messages, "holding"; then waits to
// be killed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "ferry/redis.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: redis_member ADDRESS STREAM GROUP CONSUMER ACK\n");
    return 2;
  }
  const int to_ack = std::atoi(argv[5]);
  auto t = ferry::redis::connect(argv[1], {.consumer = argv[4]});
  if (!t.is_ok()) {
    std::fprintf(stderr, "redis_member: %s\n", t.status().to_string().c_str());
    return 1;
  }
  std::mutex mu;
  std::vector<ferry::message> kept;
  int acked = 0;
  auto sub = (*t)->subscribe(argv[2], {.group = argv[3], .max_in_flight = 1000}, [&](ferry::message m) {
    std::lock_guard lock(mu);
    if (acked < to_ack) {
      m.ack();
      ++acked;
      std::printf("acked %s\n", m.payload.c_str());
    } else {
      if (kept.empty()) std::printf("holding\n");
      kept.push_back(std::move(m));
    }
    std::fflush(stdout);
  });
  if (!sub.is_ok()) {
    std::fprintf(stderr, "redis_member: %s\n", sub.status().to_string().c_str());
    return 1;
  }
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
