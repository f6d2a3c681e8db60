#include "environment.h"

#include <nats/nats.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "ferry/inproc.h"
#include "ferry/jetstream.h"
#include "ferry/kafka.h"
#include "ferry/nats.h"
#include "ferry/rabbitmq.h"
#include "ferry/redis.h"
#include "mock_cluster.h"
#include "process.h"
#include "rabbitmq_server.h"
#include "raw_client.h"
#include "redis_server.h"

namespace ferry::conformance {

namespace {

using namespace std::chrono_literals;
using test::child_process;

std::string log_dir() {
  static const std::string dir = test::make_temp_dir("ferry-sdk-conformance-");
  return dir;
}

class single_server final : public broker {
 public:
  single_server(std::vector<std::string> argv, int port, std::string log)
      : argv_(std::move(argv)), port_(port), log_(std::move(log)) {}
  ~single_server() override { proc_.stop(2s); }
  bool start() { return proc_.start(argv_, log_) && proc_.wait_for_port(port_, 20s); }
  [[nodiscard]] std::string url() const override { return "nats://127.0.0.1:" + std::to_string(port_); }
  void kill() override { proc_.kill(); }
  bool start_again() override { return start(); }
  [[nodiscard]] bool restartable() const override { return true; }

 private:
  std::vector<std::string> argv_;
  int port_;
  std::string log_;
  child_process proc_;
};

class cluster final : public broker {
 public:
  ~cluster() override {
    for (auto& p : procs_) p.stop(2s);
  }
  bool start() {
    const std::string dir = log_dir() + "/cluster";
    std::filesystem::create_directories(dir);
    int client[3], route[3];
    for (int i = 0; i < 3; ++i) client[i] = test::free_port(), route[i] = test::free_port();
    for (int i = 0; i < 3; ++i) {
      const std::string conf = dir + "/n" + std::to_string(i) + ".conf";
      std::ofstream f(conf);
      f << "server_name: n" << i << "\nlisten: 127.0.0.1:" << client[i] << "\n"
        << "jetstream { store_dir: \"" << dir << "/store" << i << "\" }\n"
        << "cluster {\n  name: conformance\n  listen: 127.0.0.1:" << route[i] << "\n  routes: [";
      for (int j = 0; j < 3; ++j) {
        if (j == i) continue;
        f << "\n    nats-route://127.0.0.1:" << route[j];
      }
      f << "\n  ]\n}\n";
      f.close();
      argv_[i] = {"nats-server", "-c", conf};
      logs_[i] = dir + "/n" + std::to_string(i) + ".log";
      if (!procs_[i].start(argv_[i], logs_[i])) return false;
      urls_ += (i == 0 ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(client[i]);
      ports_[i] = client[i];
    }
    for (int i = 0; i < 3; ++i) {
      if (!procs_[i].wait_for_port(ports_[i], 20s)) return false;
    }
    return true;
  }
  [[nodiscard]] std::string url() const override { return urls_; }
  // A restart of the cluster is a restart of its first node (the one clients use first): they
  // fail over to the others, and the replicated streams elect a new leader if they must.
  void kill() override { procs_[0].kill(); }
  bool start_again() override { return procs_[0].start(argv_[0], logs_[0]) && procs_[0].wait_for_port(ports_[0], 20s); }
  [[nodiscard]] bool restartable() const override { return true; }

 private:
  child_process procs_[3];
  std::vector<std::string> argv_[3];
  std::string logs_[3];
  int ports_[3] = {};
  std::string urls_;
};

// ferry-kafka-mock with 3 brokers. A restart takes every broker down (connections dropped and
// refused) and up again: the mock keeps its data in memory, so this is what a Kafka restart looks
// like to clients.
class kafka_mock final : public broker {
 public:
  ~kafka_mock() override { proc_.stop(2s); }
  bool start(const std::string& dir) {
    const std::string file = dir + "/bootstrap";
    if (!proc_.start(
            {test::program_path("ferry-kafka-mock", "FERRY_KAFKA_MOCK"), "--brokers", "3", "--bootstrap-file", file},
            dir + "/kafka-mock.log", true)) {
      return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(file);
      if (std::getline(in, url_) && !url_.empty()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  [[nodiscard]] std::string url() const override { return url_; }
  void kill() override { proc_.send("down all"); }
  bool start_again() override { return proc_.send("up all"); }
  [[nodiscard]] bool restartable() const override { return true; }

 private:
  child_process proc_;
  std::string url_;
};

// Debian's redis-server with every write fsynced to its append-only file, so that a SIGKILL loses
// nothing it acknowledged (the restart test kills it).
class redis_broker final : public broker {
 public:
  bool start(const std::string& dir) { return server_.start(dir); }
  [[nodiscard]] std::string url() const override { return server_.address(); }
  void kill() override { server_.kill(); }
  bool start_again() override { return server_.start_again(); }
  [[nodiscard]] bool restartable() const override { return true; }

 private:
  test::redis_server server_;
};

// Debian's rabbitmq-server, a node of its own (quorum queues: a SIGKILL loses nothing confirmed).
class rabbitmq_broker final : public broker {
 public:
  bool start(const std::string& dir) { return server_.start(dir); }
  [[nodiscard]] std::string url() const override { return server_.address(); }
  // RabbitMQ 3.10 writes a new quorum queue's Raft member to its directory (ra_directory) a moment
  // after the declaration; a node killed within about a second of it comes back with the queue
  // leaderless for good (docs/transports.md). The suite's queues are that young, so the node gets
  // the time a real one has had before it crashes.
  void kill() override {
    std::this_thread::sleep_for(3s);
    server_.kill();
  }
  bool start_again() override { return server_.start_again(); }
  [[nodiscard]] bool restartable() const override { return true; }

 private:
  test::rabbitmq_server server_;
};

std::mutex brokers_mu;
std::map<std::string, std::unique_ptr<broker>> brokers;  // guarded by brokers_mu
std::map<std::string, std::string> broker_errors;        // guarded by brokers_mu

std::unique_ptr<broker> start_broker(const std::string& kind, std::string* why_not) {
  const int port = test::free_port();
  const std::string dir = log_dir() + "/" + kind;
  std::filesystem::create_directories(dir);
  if (kind == "kafka-mock") {
    auto k = std::make_unique<kafka_mock>();
    if (k->start(dir)) return k;
    *why_not = "ferry-kafka-mock did not start (" + test::program_path("ferry-kafka-mock", "FERRY_KAFKA_MOCK") + ")";
    return nullptr;
  }
  if (kind == "redis") {
    auto r = std::make_unique<redis_broker>();
    if (r->start(dir)) return r;
    *why_not = test::have_program("redis-server") ? "redis-server did not start" : "redis-server is not installed";
    return nullptr;
  }
  if (kind == "rabbitmq") {
    auto r = std::make_unique<rabbitmq_broker>();
    if (r->start(dir)) return r;
    *why_not = test::rabbitmq_server::available() ? "rabbitmq-server did not start (its log: " + dir + "/log)"
                                                  : "rabbitmq-server is not installed";
    return nullptr;
  }
  if (kind == "ferryd") {
    auto s = std::make_unique<single_server>(std::vector<std::string>{test::ferryd_path(), "-a", "127.0.0.1", "-p",
                                                                      std::to_string(port), "-js", "-sd", dir + "/js"},
                                             port, dir + "/ferryd.log");
    if (s->start()) return s;
    *why_not = "ferryd did not start (" + test::ferryd_path() + ")";
    return nullptr;
  }
  if (!test::have_program("nats-server")) {
    *why_not = "nats-server is not installed";
    return nullptr;
  }
  if (kind == "nats-server") {
    auto s = std::make_unique<single_server>(
        std::vector<std::string>{"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir}, port,
        dir + "/nats-server.log");
    if (s->start()) return s;
    *why_not = "nats-server did not start";
    return nullptr;
  }
  auto c = std::make_unique<cluster>();
  if (c->start()) return c;
  *why_not = "the nats-server cluster did not start";
  return nullptr;
}

jetstream::options js_options(const instance& inst) {
  jetstream::options o;
  o.connection.name = "conformance";
  o.connection.reconnect_wait = 100ms;
  o.connection.poll_interval = 250ms;
  o.streams = {{.name = "CONF",
                .subjects = {"conf.>"},
                .replicas = inst.broker_kind == "cluster" ? 3 : 1,
                .max_age = std::chrono::minutes(30)}};
  return o;
}

kafka::options kafka_options() {
  kafka::options o = ferry::kafka_mock::mock_cluster::client_options("conformance");
  o.commit_interval = 100ms;
  return o;
}

// Waits until CONF on the cluster reports a leader and every replica is current.
bool wait_for_leader(const std::string& url) {
  natsConnection* nc = nullptr;
  natsOptions* no = nullptr;
  natsOptions_Create(&no);
  natsOptions_SetURL(no, url.c_str());
  bool ok = false;
  if (natsConnection_Connect(&nc, no) == NATS_OK) {
    jsCtx* js = nullptr;
    natsConnection_JetStream(&js, nc, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!ok && std::chrono::steady_clock::now() < deadline) {
      jsStreamInfo* si = nullptr;
      if (js_GetStreamInfo(&si, js, "CONF", nullptr, nullptr) == NATS_OK) {
        ok = si->Cluster != nullptr && si->Cluster->Leader != nullptr && si->Cluster->Leader[0] != '\0' &&
             si->Cluster->ReplicasLen == 2;
        for (int i = 0; ok && i < si->Cluster->ReplicasLen; ++i) ok = si->Cluster->Replicas[i]->Current;
        jsStreamInfo_Destroy(si);
      }
      if (!ok) std::this_thread::sleep_for(100ms);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  natsOptions_Destroy(no);
  return ok;
}

}  // namespace

const std::vector<instance>& instances() {
  static const std::vector<instance> all = {
      {"inproc", true, "", false, true},
      {"nats_ferryd", false, "ferryd", false},
      {"nats_server", false, "nats-server", false},
      {"js_ferryd", false, "ferryd", true},
      {"js_server", false, "nats-server", true},
      {"js_cluster", false, "cluster", true},
      {"kafka", false, "kafka-mock", false, true, true},
      {"redis", false, "redis", false, true, true},
      {"rabbitmq", false, "rabbitmq", false, true, false, true},
  };
  return all;
}

const instance& find_instance(const std::string& name) {
  for (const auto& i : instances()) {
    if (i.name == name) return i;
  }
  return instances().front();
}

broker* broker_for(const instance& inst, std::string* why_not) {
  if (inst.broker_kind.empty()) return nullptr;
  std::lock_guard lock(brokers_mu);
  if (auto it = brokers.find(inst.broker_kind); it != brokers.end()) return it->second.get();
  if (auto it = broker_errors.find(inst.broker_kind); it != broker_errors.end()) {
    *why_not = it->second;
    return nullptr;
  }
  auto b = start_broker(inst.broker_kind, why_not);
  if (!b) {
    broker_errors[inst.broker_kind] = *why_not;
    return nullptr;
  }
  return (brokers[inst.broker_kind] = std::move(b)).get();
}

result<std::unique_ptr<transport>> connect(const instance& inst) {
  if (inst.broker_kind.empty()) return inproc::make_transport({.workers = 2});
  std::string why;
  broker* b = broker_for(inst, &why);
  if (b == nullptr) return unavailable(why);
  if (inst.broker_kind == "kafka-mock") return kafka::connect(b->url(), kafka_options());
  if (inst.broker_kind == "redis") return redis::connect(b->url(), {.consumer = "conformance"});
  if (inst.broker_kind == "rabbitmq") return rabbitmq::connect(b->url(), {.connection_name = "conformance"});
  if (!inst.jetstream) {
    return nats::connect(b->url(), {.name = "conformance", .reconnect_wait = 100ms, .poll_interval = 250ms});
  }
  // A fresh cluster needs a few seconds to elect its leaders.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    auto t = jetstream::connect(b->url(), js_options(inst));
    if (t.is_ok() || std::chrono::steady_clock::now() > deadline) {
      static std::once_flag leader_once;
      if (t.is_ok() && inst.broker_kind == "cluster") std::call_once(leader_once, [&] { wait_for_leader(b->url()); });
      return t;
    }
    std::this_thread::sleep_for(250ms);
  }
}

void stop_brokers() {
  std::lock_guard lock(brokers_mu);
  brokers.clear();
}

}  // namespace ferry::conformance
