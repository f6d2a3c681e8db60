// kafka_member: one member of a consumer group on the ferry Kafka transport, in a process of its
// own, for the test that kills a member with SIGKILL.
//
//   kafka_member BOOTSTRAP TOPIC GROUP ACK
//
// Acks the first ACK messages it receives and keeps every later one unsettled. Prints
// "acked <payload>" for each ack and, once it holds unsettled messages, "holding"; then waits to
// be killed.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "ferry/kafka.h"
#include "group_member.h"
#include "mock_cluster.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: kafka_member BOOTSTRAP TOPIC GROUP ACK\n");
    return 2;
  }
  ferry::kafka::options o = ferry::kafka_mock::mock_cluster::client_options("kafka-member");
  o.commit_interval = std::chrono::milliseconds(50);
  return ferry::test::run_group_member("kafka_member", ferry::kafka::connect(argv[1], o), argv[2], argv[3],
                                       std::atoi(argv[4]));
}
