// group_member: the body of the member programs the transports' tests kill with SIGKILL
// (tests/kafka/kafka_member.cc, tests/redis/redis_member.cc, tests/rabbitmq/rabbitmq_member.cc).
//
// Subscribes `subject` in `group`, acks the first `to_ack` messages it receives and keeps every
// later one unsettled. Prints "acked <payload>" for each ack and, once it holds unsettled
// messages, "holding"; then waits to be killed.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/transport.h"

namespace ferry::test {

[[noreturn]] inline void exit_with(const char* program, const status& s) {
  std::fprintf(stderr, "%s: %s\n", program, s.to_string().c_str());
  std::exit(1);
}

inline int run_group_member(const char* program, result<std::unique_ptr<transport>> t, const std::string& subject,
                            const std::string& group, int to_ack) {
  if (!t.is_ok()) exit_with(program, t.status());
  std::mutex mu;
  std::vector<message> kept;
  int acked = 0;
  auto sub = (*t)->subscribe(subject, {.group = group, .max_in_flight = 1000}, [&](message m) {
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
  if (!sub.is_ok()) exit_with(program, sub.status());
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace ferry::test
