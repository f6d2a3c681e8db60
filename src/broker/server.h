// ferry::broker::server: the ferryd broker as a library.
//
// Start a broker inside a C++ process (tests, edge devices) and talk to it with any NATS
// client:
//
//   ferry::broker::server_options o;
//   o.port = 0;                                   // any free port
//   auto s = ferry::broker::server::start(o);     // result<std::unique_ptr<server>>
//   if (!s.is_ok()) { ... s.status().message() ... }
//   connect_to((*s)->client_url());               // "nats://127.0.0.1:PORT"
//   (*s)->shutdown();                             // or let the destructor do it
//
// start() returns once the listener is bound. The server runs on its own threads; every
// method is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "broker/options.h"

namespace ferry::broker {

class server_core;

// Totals since start.
struct server_stats {
  std::uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  std::uint64_t connections = 0;        // open now
  std::uint64_t total_connections = 0;  // accepted since start
  std::uint64_t subscriptions = 0;
  std::uint64_t slow_consumers = 0;
};

// The version ferryd reports in INFO: the nats-server release whose client protocol and
// JetStream API ferryd implements (clients gate features on it).
inline constexpr const char* nats_compat_version = "2.9.10";
// ferryd's own version.
inline constexpr const char* ferryd_version = "0.1.0";

class server {
 public:
  static result<std::unique_ptr<server>> start(server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // The bound client port, and the monitoring port (0 when monitoring is off).
  [[nodiscard]] int port() const;
  [[nodiscard]] int http_port() const;
  // "nats://HOST:PORT" (tls:// when TLS is on).
  [[nodiscard]] std::string client_url() const;
  [[nodiscard]] const std::string& id() const;
  [[nodiscard]] server_stats stats() const;

  // Closes every connection and stops all threads. Idempotent.
  void shutdown();

 private:
  explicit server(std::unique_ptr<server_core> core);
  std::unique_ptr<server_core> core_;
};

}  // namespace ferry::broker
