#include "mock_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>
#include <vector>

namespace ferry::kafka_mock {
namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<int> number(const std::string& s, int min, int max) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

// Kafka brokers set TCP_NODELAY on their connections; librdkafka's mock does not, so a response
// written while the previous one is unacknowledged waits for the client's delayed ACK (40 ms on
// Linux). Connections accepted later inherit the option from their listening socket, so it is set
// on the mock's listeners, found among this process's descriptors by their ports.
void disable_nagle_on_listeners(const std::string& bootstrap) {
  std::vector<int> ports;
  for (std::size_t at = 0; (at = bootstrap.find(':', at)) != std::string::npos; ++at) {
    ports.push_back(std::atoi(bootstrap.c_str() + at + 1));
  }
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    const int fd = std::atoi(e->d_name);
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (fd <= 2 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET) continue;
    if (std::find(ports.begin(), ports.end(), ntohs(a.sin_port)) == ports.end()) continue;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  closedir(d);
}

}  // namespace

result<std::unique_ptr<mock_cluster>> mock_cluster::start(int brokers) {
  if (brokers < 1 || brokers > 64) return invalid_argument("--brokers must be 1 to 64");
  std::unique_ptr<mock_cluster> c(new mock_cluster());
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "client.id", "ferry-kafka-mock", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);       // not its notice that it has no brokers to reach
  c->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // the mock's bookkeeping handle
  if (c->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return internal_error(std::string("creating the mock's handle: ") + err);
  }
  c->mc_ = rd_kafka_mock_cluster_new(c->rk_, brokers);
  if (c->mc_ == nullptr) return internal_error("librdkafka could not create a mock cluster");
  c->bootstrap_ = rd_kafka_mock_cluster_bootstraps(c->mc_);
  c->brokers_ = brokers;
  disable_nagle_on_listeners(c->bootstrap_);
  return c;
}

kafka::options mock_cluster::client_options(std::string client_id) {
  using namespace std::chrono_literals;
  kafka::options o;
  o.client_id = std::move(client_id);
  o.session_timeout = 3s;
  o.heartbeat_interval = 300ms;
  o.properties = {{"fetch.wait.max.ms", "10"}, {"reconnect.backoff.max.ms", "500"}};
  return o;
}

mock_cluster::~mock_cluster() {
  if (mc_ != nullptr) rd_kafka_mock_cluster_destroy(mc_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

std::string mock_cluster::commands() {
  return "  down <id>|all         the broker drops its connections and refuses new ones (data is kept)\n"
         "  up <id>|all           the broker accepts connections again\n"
         "  topic <name> <partitions> [replication]\n"
         "                        create a topic (auto-created ones get 4 partitions)\n"
         "  rtt <id>|all <ms>     add round-trip latency to a broker\n"
         "  help                  this list\n";
}

result<std::string> mock_cluster::run(const std::string& command) {
  const auto w = words(command);
  if (w.empty()) return std::string();
  const auto broker = [&](const std::string& s) -> std::optional<int> {
    if (s == "all") return -1;
    return number(s, 1, brokers_);
  };
  const auto check = [&](rd_kafka_resp_err_t e) -> result<std::string> {
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return invalid_argument(command + ": " + rd_kafka_err2str(e));
    return "ok " + command;
  };
  if ((w[0] == "down" || w[0] == "up") && w.size() == 2) {
    auto id = broker(w[1]);
    if (!id) return invalid_argument("no broker \"" + w[1] + "\" (1 to " + std::to_string(brokers_) + ", or all)");
    return check(w[0] == "down" ? rd_kafka_mock_broker_set_down(mc_, *id) : rd_kafka_mock_broker_set_up(mc_, *id));
  }
  if (w[0] == "topic" && (w.size() == 3 || w.size() == 4)) {
    auto parts = number(w[2], 1, 10000);
    auto repl = w.size() == 4 ? number(w[3], 1, brokers_) : std::optional<int>(std::min(3, brokers_));
    if (!parts || !repl)
      return invalid_argument("usage: topic <name> <partitions 1..10000> [replication 1.." + std::to_string(brokers_) +
                              "]");
    return check(rd_kafka_mock_topic_create(mc_, w[1].c_str(), *parts, *repl));
  }
  if (w[0] == "rtt" && w.size() == 3) {
    auto id = broker(w[1]);
    auto ms = number(w[2], 0, 600000);
    if (!id || !ms) return invalid_argument("usage: rtt <id>|all <ms>");
    return check(rd_kafka_mock_broker_set_rtt(mc_, *id, *ms));
  }
  if (w[0] == "help") return commands();
  return invalid_argument("unknown command \"" + command + "\"; commands:\n" + commands());
}

}  // namespace ferry::kafka_mock
