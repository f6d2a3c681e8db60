// ferry-kafka-mock: an N-broker Kafka mock cluster on loopback (librdkafka's protocol-level mock),
// so that tests, `make demo TRANSPORT=kafka` and a user without Kafka can run the Kafka transport.
// Prints the bootstrap servers (and writes them to --bootstrap-file), then serves until SIGINT or
// SIGTERM, reading control commands (down/up/topic/rtt) from standard input.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "mock_cluster.h"

int main(int argc, char** argv) {
  int brokers = 3;
  std::string bootstrap_file;
  std::vector<std::string> topics;
  CLI::App app(
      "ferry-kafka-mock: a Kafka cluster for tests and demos, in memory, on 127.0.0.1 (librdkafka's mock "
      "cluster).\nPrints the bootstrap servers, then serves until SIGINT or SIGTERM. Commands on standard "
      "input:\n" +
      ferry::kafka_mock::mock_cluster::commands() +
      "Limits: data lives in memory only, each partition keeps its last 5 MiB or 100,000 batches, no admin "
      "API (CreateTopics): topics are auto-created or made with --topic; see docs/kafka-mock.md.");
  app.add_option("--brokers", brokers, "number of brokers (ids 1..N)")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--bootstrap-file", bootstrap_file, "also write the bootstrap servers to this file (for scripts)");
  app.add_option("--topic", topics, "create NAME:PARTITIONS at start (repeatable)");
  CLI11_PARSE(app, argc, argv);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the mock's threads start: only sigwait gets them

  auto cluster = ferry::kafka_mock::mock_cluster::start(brokers);
  if (!cluster.is_ok()) {
    std::fprintf(stderr, "ferry-kafka-mock: %s\n", cluster.status().message().c_str());
    return 1;
  }
  auto& c = **cluster;
  for (const std::string& t : topics) {
    const auto colon = t.rfind(':');
    auto r = c.run("topic " + t.substr(0, colon) + " " + (colon == std::string::npos ? "4" : t.substr(colon + 1)));
    if (!r.is_ok()) {
      std::fprintf(stderr, "ferry-kafka-mock: --topic %s: %s\n", t.c_str(), r.status().message().c_str());
      return 1;
    }
  }
  if (!bootstrap_file.empty()) {
    const std::string tmp = bootstrap_file + ".tmp";
    std::ofstream(tmp) << c.bootstrap_servers() << "\n";
    if (std::rename(tmp.c_str(), bootstrap_file.c_str()) != 0) {  // readers never see half a line
      std::fprintf(stderr, "ferry-kafka-mock: cannot write %s\n", bootstrap_file.c_str());
      return 1;
    }
  }
  std::printf("ferry-kafka-mock: %d broker(s); bootstrap servers:\n%s\n", c.brokers(), c.bootstrap_servers().c_str());
  std::fflush(stdout);

  // Commands from standard input; at its end (e.g. </dev/null) the cluster keeps serving.
  std::thread([&c] {
    for (std::string line; std::getline(std::cin, line);) {
      auto r = c.run(line);
      std::printf("%s\n", r.is_ok() ? r->c_str() : ("error: " + r.status().message()).c_str());
      std::fflush(stdout);
    }
  }).detach();

  int sig = 0;
  sigwait(&set, &sig);
  std::printf("ferry-kafka-mock: stopping\n");
  if (!bootstrap_file.empty()) std::remove(bootstrap_file.c_str());
  return 0;
}
