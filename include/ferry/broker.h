// broker: ferryd inside a C++ process (tests, edge devices, a service that brings its own broker).
// The same broker as the ferryd program: the NATS client protocol, JetStream streams with -js's
// store, monitoring; every NATS client (and the SDK's nats/jetstream transports) connects to it.
//
//   auto b = ferry::embedded_broker::start({.port = 0, .jetstream = true, .store_dir = "/var/lib/app/js"});
//   if (!b.is_ok()) die(b.status().to_string());
//   auto t = ferry::jetstream::connect((*b)->client_url(), {...});
//   ...
//   (*b)->shutdown();                               // or let the destructor do it
//
// Its log lines go to spdlog's default logger: the application's (set its level or sink there).
// Link ferry::broker (CMake) or ferry-broker (pkg-config).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {

struct embedded_broker_options {
  // A ferryd configuration file (nats-server's syntax, docs/configuration.md), read first; the
  // fields below that are set override it. Empty: none.
  std::string config_file;
  // Unset: the configuration file's value, else 127.0.0.1, a free port (0; see port()), no
  // monitoring, one I/O thread per core.
  std::optional<std::string> host;
  std::optional<int> port;       // 0: a free port
  std::optional<int> http_port;  // monitoring (/varz, /jsz, /metrics...): 0 off, -1 a free port
  std::optional<int> workers;    // I/O threads; 0: one per core
  bool jetstream = false;
  std::string store_dir;     // JetStream's files; default <tmp>/ferryd/jetstream
  bool sync_always = false;  // fsync before every publish acknowledgement (group commit)
};

class embedded_broker {
 public:
  // Starts the broker; returns once it listens. invalid_argument for a bad configuration,
  // unavailable when the port is taken.
  static result<std::unique_ptr<embedded_broker>> start(embedded_broker_options options = {});
  ~embedded_broker();
  embedded_broker(const embedded_broker&) = delete;
  embedded_broker& operator=(const embedded_broker&) = delete;

  [[nodiscard]] int port() const;
  [[nodiscard]] int http_port() const;           // 0 without monitoring
  [[nodiscard]] std::string client_url() const;  // "nats://127.0.0.1:PORT"
  // Closes every connection, flushes the store and stops every thread. Idempotent.
  void shutdown();

 private:
  struct impl;
  explicit embedded_broker(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry
