// server_core: the broker's shared state behind the public server API (server.h): options,
// the subject index, the workers, the listener, the client registry, authentication, TLS and
// statistics. Internal to the broker module.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/auth.h"
#include "broker/js/host.h"
#include "broker/options.h"
#include "broker/server.h"
#include "broker/sublist.h"
#include "broker/worker.h"

namespace ferry::broker {

class connection;
class monitor;
namespace js {
class jetstream;
}

class server_core final : public js::host {
 public:
  explicit server_core(server_options o);
  ~server_core() override;

  // Binds the listener and the monitor, starts the workers. Not thread-safe; call once.
  status start();
  // Closes every client and stops all threads. Idempotent; any thread but a worker's.
  void shutdown();

  [[nodiscard]] const server_options& options() const { return opts_; }
  [[nodiscard]] const std::string& id() const { return id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int http_port() const;
  sublist& subjects() { return sublist_; }
  [[nodiscard]] const authenticator& auth() const { return auth_; }
  asio::ssl::context* tls_context() { return tls_ctx_.get(); }
  [[nodiscard]] std::chrono::system_clock::time_point start_time() const { return start_time_; }
  // JetStream, when enabled (-js); nullptr otherwise.
  js::jetstream* jetstream() { return jetstream_.get(); }

  // The INFO line for a new client (with the trailing space and CRLF).
  [[nodiscard]] std::string info_line(std::uint64_t client_id, std::string_view client_ip) const;

  // Delivers a message to every matching subscription (one member per queue group), skipping
  // `publisher` if it asked for no echo. `w` is the calling worker, or nullptr off the
  // workers. Returns the number of deliveries. Thread-safe.
  std::size_t route(worker* w, const protocol::pub_frame& f, delivery_target* publisher, const route_options& o);
  std::size_t route(worker* w, const protocol::pub_frame& f, delivery_target* publisher) {
    return route(w, f, publisher, route_options{});
  }
  // Publishes a message the server makes (API replies, acknowledgements, consumer deliveries,
  // advisories) as if a client had. Thread-safe.
  std::size_t publish(worker* w, std::string_view subject, std::string_view reply, std::string_view headers,
                      std::string_view data, const route_options& o = {}, bool empty_reply_field = false) override;

  // The rest of JetStream's host (js/host.h).
  bool has_interest(std::string_view subject) override;
  subscription_ptr subscribe(const std::string& subject, js::internal_handler fn) override;
  void unsubscribe(const subscription_ptr& s) override;
  void at_round_end(worker& w, std::shared_ptr<round_task> t) override { w.at_round_end(std::move(t)); }
  worker* current_worker() override { return worker::current(); }

  // Client registry. add_client returns false when the server is at max_connections.
  bool add_client(const std::shared_ptr<connection>& c);
  void remove_client(std::uint64_t id);
  [[nodiscard]] std::vector<std::shared_ptr<connection>> clients() const;
  [[nodiscard]] std::size_t num_clients() const;

  void count_slow_consumer() { slow_consumers_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] server_stats stats() const;
  const std::vector<std::unique_ptr<worker>>& workers() const { return workers_; }

 private:
  // route()'s deliveries to the subscriptions in `r`, encoded by `enc`.
  static std::size_t deliver(worker* w, const protocol::pub_frame& f, delivery_target* publisher,
                             const route_options& o, const match_result& r, protocol::message_encoding& enc);
  void accept_next();
  status setup_tls();
  // The steps of start(); on an error start() undoes what was done.
  status listen();
  [[nodiscard]] std::string make_info_prefix() const;
  status start_jetstream();
  status start_monitor();
  status write_ports_file();

  server_options opts_;
  std::string id_;
  std::string name_;
  std::string info_prefix_;  // INFO JSON up to and excluding the client fields
  sublist sublist_;
  authenticator auth_;
  std::unique_ptr<asio::ssl::context> tls_ctx_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::size_t next_worker_ = 0;
  int port_ = 0;
  std::unique_ptr<monitor> monitor_;
  std::unique_ptr<js::jetstream> jetstream_;
  std::chrono::system_clock::time_point start_time_;
  std::string ports_file_;

  mutable std::mutex clients_mu_;
  std::map<std::uint64_t, std::shared_ptr<connection>> clients_;  // guarded by clients_mu_
  std::atomic<std::uint64_t> next_client_id_{0};
  std::atomic<std::uint64_t> total_connections_{0};
  std::atomic<std::uint64_t> slow_consumers_{0};
  std::atomic<bool> stopping_{false};
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_
};

}  // namespace ferry::broker
