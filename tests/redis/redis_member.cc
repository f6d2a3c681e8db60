// redis_member: one member of a consumer group on the ferry Redis transport, in a process of its
// own, for the test that kills a member with SIGKILL.
//
//   redis_member ADDRESS STREAM GROUP CONSUMER ACK
//
// Acks the first ACK messages it receives and keeps every later one unsettled. Prints
// "acked <payload>" for each ack and, once it holds unsettled messages, "holding"; then waits to
// be killed.
#include <cstdio>
#include <cstdlib>

#include "ferry/redis.h"
#include "group_member.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: redis_member ADDRESS STREAM GROUP CONSUMER ACK\n");
    return 2;
  }
  return ferry::test::run_group_member("redis_member", ferry::redis::connect(argv[1], {.consumer = argv[4]}), argv[2],
                                       argv[3], std::atoi(argv[5]));
}
