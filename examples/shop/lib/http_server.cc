#include "http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <chrono>
#include <utility>

namespace shop {

void reply_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

http_server::http_server() : server_(std::make_unique<httplib::Server>()) {
  server_->set_tcp_nodelay(true);  // small responses on kept-alive connections: no Nagle delay
  // httplib's default also sets SO_REUSEPORT, which lets a second service bind a port that is in
  // use and take half of its requests; SO_REUSEADDR alone only allows a quick restart.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "non-standard exception";
    }
    spdlog::error("http {} {}: {}", req.method, req.path, what);
    reply_json(res, 500, {{"error", what}});
  });
}

http_server::~http_server() { stop(); }

void http_server::serve_observability(const ferry::metrics_registry& registry, std::function<nlohmann::json()> stats,
                                      std::function<std::string()> more_metrics) {
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    reply_json(res, 200, {{"status", "ok"}});
  });
  server_->Get(
      "/metrics", [&registry, more = std::move(more_metrics)](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry.prometheus_text() + (more ? more() : std::string()), "text/plain; version=0.0.4");
      });
  server_->Get("/stats", [stats = std::move(stats)](const httplib::Request&, httplib::Response& res) {
    reply_json(res, 200, stats());
  });
}

ferry::result<int> http_server::start(const std::string& host, int port) {
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
    if (bound < 0) return ferry::unavailable("http: cannot bind " + host);
  } else if (!server_->bind_to_port(host, port)) {
    return ferry::unavailable("http: cannot listen on " + host + ":" + std::to_string(port) +
                              " (address already in use, or not an address of this machine)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void http_server::stop() {
  if (!thread_.joinable()) return;
  // stop() does nothing to a server that has not begun listening yet: give it a moment.
  for (int i = 0; i < 400 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_->stop();
  thread_.join();
}

}  // namespace shop
