// rabbitmq_member: one member of a consumer group on the ferry RabbitMQ transport, in a process of
// its own, for the test that kills a member with SIGKILL.
//
//   rabbitmq_member ADDRESS SUBJECT GROUP ACK
//
// Acks the first ACK messages it receives and keeps every later one unsettled. Prints
// "acked <payload>" for each ack and, once it holds unsettled messages, "holding"; then waits to
// be killed.
#include <cstdio>
#include <cstdlib>

#include "ferry/rabbitmq.h"
#include "group_member.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: rabbitmq_member ADDRESS SUBJECT GROUP ACK\n");
    return 2;
  }
  return ferry::test::run_group_member("rabbitmq_member",
                                       ferry::rabbitmq::connect(argv[1], {.connection_name = "rabbitmq_member"}),
                                       argv[2], argv[3], std::atoi(argv[4]));
}
