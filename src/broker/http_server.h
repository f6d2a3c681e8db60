// http_server: the small HTTP/1.1 server behind the monitoring port, on Asio with one thread.
//
//   http_server http({.header_timeout = 5s});
//   http.route("/healthz", [](const http_request&) { return http_response{200, "application/json", "{}"}; });
//   FERRY_ASSIGN_OR_RETURN(int port, http.start("127.0.0.1", 8222));
//
// What it is for: GET requests of operators, scrapers and liveness probes. Every connection is
// served asynchronously, so slow clients cost a socket each and never hold up the others, and
// each request head must arrive whole within `header_timeout` (a client that sends a byte every
// few seconds is cut off, where a thread-per-connection server would keep a worker for it). The
// listening socket is never shared: SO_REUSEPORT is not set, so a second server on a taken port
// fails to start, as nats-server does. Request bodies are not read (the connection is closed
// after answering one); HEAD is answered without a body; other methods get 405.
//
// Thread safety: route() before start(); handlers run on the server's thread, one at a time.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/result.h"

namespace ferry::broker {

struct http_request {
  std::string method, path;                              // path without the query
  std::map<std::string, std::string> params;             // the query, percent-decoded
  [[nodiscard]] bool flag(const std::string& k) const {  // ?k=1 or ?k=true
    auto it = params.find(k);
    return it != params.end() && (it->second == "1" || it->second == "true");
  }
};

struct http_response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct http_server_options {
  std::chrono::milliseconds header_timeout{5000};  // whole request head, and idle keep-alive
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 1024;  // beyond this, new connections are closed at once
};

class http_server {
 public:
  using handler = std::function<http_response(const http_request&)>;

  explicit http_server(http_server_options o = {});
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Serves `path` exactly. REQUIRES: start() not called yet.
  void route(const std::string& path, handler h);
  // Called for every request before routing (counting, logging).
  void on_request(std::function<void(const http_request&)> f);
  // Binds host:port (0: any free port) and serves on a thread. Returns the bound port;
  // unavailable with nats-server's text ("can't listen to the monitor port: listen tcp
  // 127.0.0.1:8222: bind: address already in use") when the port is taken.
  result<int> start(const std::string& host, int port);
  // Closes the listener and every connection, joins the thread. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry::broker
