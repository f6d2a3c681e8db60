// rabbitmq_member: one member of a consumer group on the ferry RabbitMQ transport, in a process of
// its own, for the test that kills a member with SIGKILL.
//
//   rabbitmq_member ADDRESS SUBJECT GROUP ACK
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

#include "ferry/rabbitmq.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: rabbitmq_member ADDRESS SUBJECT GROUP ACK\n");
    return 2;
  }
  const int to_ack = std::atoi(argv[4]);
  auto t = ferry::rabbitmq::connect(argv[1], {.connection_name = "rabbitmq_member"});
  if (!t.is_ok()) {
    std::fprintf(stderr, "rabbitmq_member: %s\n", t.status().to_string().c_str());
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
    std::fprintf(stderr, "rabbitmq_member: %s\n", sub.status().to_string().c_str());
    return 1;
  }
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
