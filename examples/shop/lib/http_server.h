// http_server: a cpp-httplib server on its own thread, with the endpoints every shop service
// serves: GET /healthz, GET /metrics (Prometheus text of the service's handlers) and GET /stats
// (the service's counts as JSON, for the load driver and for people).
//
//   shop::http_server http;
//   http.routes().Post("/orders", ...);                 // a service's own API, before start()
//   http.serve_observability(registry, [&] { return store.stats_json(); });
//   if (auto s = http.start("127.0.0.1", 8080); !s.is_ok()) die(s);
//   ...
//   http.stop();                                        // or let the destructor do it
//
// Thread safety: routes are added before start(); handlers run on httplib's pool threads.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "ferry/metrics.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace httplib {
class Server;
class Response;
}  // namespace httplib

namespace shop {

class http_server {
 public:
  http_server();
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // The underlying server, to add routes. REQUIRES: start() not called yet.
  httplib::Server& routes() { return *server_; }
  // Adds GET /healthz, GET /metrics (from `registry`, which must outlive the server) and
  // GET /stats (the JSON `stats` returns; a thrown exception becomes a 500).
  // `more_metrics`: more families in the Prometheus text format (the outbox's, the sagas').
  void serve_observability(const ferry::metrics_registry& registry, std::function<nlohmann::json()> stats,
                           std::function<std::string()> more_metrics = nullptr);
  // Binds host:port (0: any free port) and serves on a thread. Returns the bound port;
  // unavailable when the port cannot be bound.
  ferry::result<int> start(const std::string& host, int port);
  // Stops serving and joins the thread. Idempotent.
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// Sets `res` to `status` with the JSON body `body`.
void reply_json(httplib::Response& res, int status, const nlohmann::json& body);

}  // namespace shop
