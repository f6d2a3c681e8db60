// monitor: the HTTP monitoring endpoint on the -m port, with nats-server's paths and field
// names: /varz, /connz, /subsz, /healthz, plus /metrics in Prometheus text format.
// Served by http_server (Asio, its own thread); reads the server's state through thread-safe calls.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"

namespace ferry::broker {

class http_server;

class server_core;

class monitor {
 public:
  explicit monitor(server_core& core);
  ~monitor();
  // Binds host:port (0: any free port) and starts serving.
  status start(const std::string& host, int port);
  void stop();
  [[nodiscard]] int port() const { return port_; }

  // The documents, exposed for tests.
  [[nodiscard]] std::string varz() const;
  [[nodiscard]] std::string connz(bool subs, int offset, int limit) const;
  [[nodiscard]] std::string subsz(bool subs) const;
  [[nodiscard]] std::string metrics() const;
  [[nodiscard]] std::string jsz(bool streams, bool consumers) const;

 private:
  server_core& core_;
  std::unique_ptr<http_server> http_;
  int port_ = 0;
  mutable std::mutex stats_mu_;
  std::map<std::string, std::uint64_t> req_stats_;  // guarded by stats_mu_
};

// "1d2h3m4s", as nats-server formats uptime.
std::string format_uptime(std::chrono::seconds s);
// RFC 3339 with nanoseconds in UTC, as Go's time.Time marshals.
std::string format_time(std::chrono::system_clock::time_point t);

}  // namespace ferry::broker
