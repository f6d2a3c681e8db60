// mock_cluster: librdkafka's protocol-level mock Kafka cluster (rdkafka_mock.h) on loopback, for
// tests, the demo, and anyone without a Kafka at hand. It speaks the Kafka protocol to real clients
// (produce, fetch, idempotent producers, consumer groups with commits, metadata and topic
// auto-creation); see docs/kafka-mock.md for what it lacks.
//
//   auto c = ferry::kafka_mock::mock_cluster::start(3);
//   std::string bootstrap = (*c)->bootstrap_servers();   // "127.0.0.1:PORT,127.0.0.1:PORT,..."
//   (*c)->run("down 2");                                 // broker 2 refuses connections
//
// Thread safety: every method is thread-safe (the mock runs on its own thread).
#pragma once

#include <memory>
#include <string>

#include "ferry/kafka.h"
#include "ferry/result.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace ferry::kafka_mock {

class mock_cluster {
 public:
  // Starts `brokers` brokers (ids 1..brokers). Topics created on demand get `partitions`
  // partitions when made through run("topic ...").
  static result<std::unique_ptr<mock_cluster>> start(int brokers);
  ~mock_cluster();
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;

  [[nodiscard]] const std::string& bootstrap_servers() const { return bootstrap_; }
  [[nodiscard]] int brokers() const { return brokers_; }

  // One control command; returns what to answer ("ok ...") or invalid_argument:
  //   down <id>|all        the broker drops its connections and refuses new ones (data is kept)
  //   up <id>|all          it accepts connections again
  //   topic <name> <partitions> [replication]   create a topic
  //   rtt <id>|all <ms>    add round-trip latency
  //   help
  result<std::string> run(const std::string& command);
  // The help text of run().
  static std::string commands();

  // Kafka transport options that suit the mock (docs/kafka-mock.md): it answers an empty fetch
  // only after fetch.wait.max.ms and holds a rebalance for the session timeout minus a second, so
  // both are small (10 ms, 3 s) and so is the heartbeat (300 ms).
  static kafka::options client_options(std::string client_id);

 private:
  mock_cluster() = default;
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_mock_cluster_s* mc_ = nullptr;
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace ferry::kafka_mock
