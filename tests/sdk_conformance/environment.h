// environment: the transports the conformance suite runs against, and the brokers behind them.
// Brokers are started once per process, on first use, by the suite itself: ferryd (a subprocess,
// so it can be killed and restarted), Debian's nats-server, and a 3-node nats-server cluster on
// loopback. Every JetStream instance uses one stream, CONF, on `conf.>` (replicas 3 on the
// cluster); request/reply subjects (`rpc.>`) stay outside it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ferry/result.h"
#include "ferry/transport.h"

namespace ferry::conformance {

// A broker the suite started (one server, or a cluster).
class broker {
 public:
  virtual ~broker() = default;
  // Client URLs, comma-separated.
  [[nodiscard]] virtual std::string url() const = 0;
  // Kills the server (SIGKILL); start_again() starts it on the same port and store. False if
  // this broker cannot (the cluster) or the start failed.
  virtual void kill() = 0;
  virtual bool start_again() = 0;
  [[nodiscard]] virtual bool restartable() const = 0;
};

struct instance {
  std::string name;  // as in test names: inproc, nats_ferryd, ...
  // Everything made by one instance's connect() talks to the same bus/broker, except inproc,
  // where each call makes a separate bus (single_bus: tests share one transport instead).
  bool single_bus = false;
  std::string broker_kind;  // "", "ferryd", "nats-server", "cluster", "kafka-mock", "redis", "rabbitmq"
  bool jetstream = false;
  // Header values may hold any byte, CR, LF and NUL included (NATS headers cannot).
  bool any_header_byte = false;
  // A subscriber without a group starts at the end of the log (Kafka), not at its start.
  bool ungrouped_from_end = false;
  // Queues, not a log (RabbitMQ): a new subscription or group gets only what is published once it
  // exists, and deliveries have no stream sequence.
  bool no_replay = false;
};

// The instances, in table order.
const std::vector<instance>& instances();
const instance& find_instance(const std::string& name);

// The broker of `inst` (started on first use); nullptr for inproc. A broker that cannot start
// (program missing) is reported as a skip by the tests.
broker* broker_for(const instance& inst, std::string* why_not);

// A new transport of `inst` (connects to its broker). For JetStream, binds or creates CONF.
result<std::unique_ptr<transport>> connect(const instance& inst);

// Stops every broker (end of the run).
void stop_brokers();

}  // namespace ferry::conformance
