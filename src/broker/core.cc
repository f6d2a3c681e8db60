#include "broker/core.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "broker/connection.h"
#include "broker/js/jetstream.h"
#include "broker/monitor.h"
#include "protocol/go_json.h"

namespace ferry::broker {

namespace {

// nats-server ids are nkey public keys: 'N' and 55 base32 characters.
std::string make_server_id() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::string id = "N";
  for (int i = 0; i < 55; ++i) id += alphabet[rng() % 32];
  return id;
}

std::uint32_t fast_random() {
  thread_local std::uint32_t x = std::random_device{}() | 1;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

}  // namespace

server_core::server_core(server_options o)
    : opts_(std::move(o)), id_(make_server_id()), auth_(opts_.auth) {
  name_ = opts_.server_name.empty() ? id_ : opts_.server_name;
}

server_core::~server_core() { shutdown(); }

status server_core::setup_tls() {
  const tls_options& t = opts_.tls;
  try {
    tls_ctx_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_ctx_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    tls_ctx_->use_certificate_chain_file(t.cert_file);
    tls_ctx_->use_private_key_file(t.key_file, asio::ssl::context::pem);
    if (!t.ca_file.empty()) tls_ctx_->load_verify_file(t.ca_file);
    if (t.verify) {
      tls_ctx_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    } else {
      tls_ctx_->set_verify_mode(asio::ssl::verify_none);
    }
  } catch (const std::system_error& e) {
    return invalid_argument(std::string("TLS configuration: ") + e.what() + " (cert " + t.cert_file +
                            ", key " + t.key_file + (t.ca_file.empty() ? "" : ", ca " + t.ca_file) + ")");
  }
  return status::ok();
}

status server_core::start() {
  if (std::string err = validate(opts_); !err.empty()) return invalid_argument(err);
  start_time_ = std::chrono::system_clock::now();
  if (opts_.tls.enabled) FERRY_RETURN_IF_ERROR(setup_tls());

  int n = opts_.workers > 0 ? opts_.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<worker>(sublist_, i));

  status s = listen();
  if (s.is_ok()) {
    info_prefix_ = make_info_prefix();
    if (opts_.jetstream) s = start_jetstream();
  }
  if (s.is_ok() && opts_.http_port != 0) s = start_monitor();
  if (!s.is_ok()) {
    // Undone in reverse: the acceptor before the io_context it uses.
    monitor_.reset();
    if (jetstream_) jetstream_->stop();
    jetstream_.reset();
    acceptor_.reset();
    workers_.clear();
    return s;
  }

  // Pinning each worker to its own core (FERRYD_PIN=1) suits a machine that runs only the
  // broker; where clients share the cores (as in our benchmarks), letting the scheduler place
  // the workers measured better, so it is off by default.
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  const char* pin_env = std::getenv("FERRYD_PIN");
  const bool pin = pin_env != nullptr && std::string_view(pin_env) == "1" && cpus > 1;
  for (std::size_t i = 0; i < workers_.size(); ++i) workers_[i]->start(pin ? static_cast<int>(i) % cpus : -1);
  asio::post(workers_[0]->io(), [this] { accept_next(); });

  if (!opts_.ports_file_dir.empty()) {
    if (status ps = write_ports_file(); !ps.is_ok()) spdlog::warn("{}", ps.message());
  }
  if (!opts_.pid_file.empty()) {
    std::ofstream f(opts_.pid_file, std::ios::trunc);
    f << ::getpid();
    if (!f) spdlog::warn("could not write pid file {}", opts_.pid_file);
  }
  spdlog::info("Listening for client connections on {}:{}", opts_.host, port_);
  if (opts_.tls.enabled) spdlog::info("TLS required for client connections");
  spdlog::info("Server id is {}", id_);
  spdlog::info("Server is ready ({} worker thread{})", workers_.size(), workers_.size() == 1 ? "" : "s");
  return status::ok();
}

status server_core::listen() {
  try {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(opts_.host), static_cast<unsigned short>(opts_.port < 0 ? 0 : opts_.port));
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(workers_[0]->io());
    acceptor_->open(ep.protocol());
    acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_->local_endpoint().port();
    return status::ok();
  } catch (const std::system_error& e) {
    return unavailable("listening on " + opts_.host + ":" + std::to_string(opts_.port) + ": " + e.code().message());
  }
}

std::string server_core::make_info_prefix() const {
  // The INFO fields shared by every client, in nats-server's order.
  std::string p = "INFO {\"server_id\":" + protocol::go_json_string(id_) +
                  ",\"server_name\":" + protocol::go_json_string(name_) + ",\"version\":\"" + nats_compat_version +
                  "\",\"proto\":1,\"go\":\"ferryd " + ferryd_version +
                  "\",\"host\":" + protocol::go_json_string(opts_.host) + ",\"port\":" + std::to_string(port_) +
                  ",\"headers\":true";
  if (auth_.required()) p += ",\"auth_required\":true";
  if (opts_.tls.enabled) {
    p += ",\"tls_required\":true";
    if (opts_.tls.verify) p += ",\"tls_verify\":true";
  }
  p += ",\"max_payload\":" + std::to_string(opts_.max_payload);
  if (opts_.jetstream) p += ",\"jetstream\":true";
  return p;
}

status server_core::start_jetstream() {
  std::string dir = opts_.store_dir;
  if (dir.empty()) dir = (std::filesystem::temp_directory_path() / "ferryd" / "jetstream").string();
  js::jetstream_options jo;
  jo.store_dir = std::move(dir);
  jo.sync = opts_.sync_always ? store::sync_policy::always : store::sync_policy::interval;
  jo.sync_interval_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.sync_interval).count();
  jetstream_ = std::make_unique<js::jetstream>(*this, std::move(jo));
  return jetstream_->start().with_context("starting JetStream");
}

status server_core::start_monitor() {
  monitor_ = std::make_unique<monitor>(*this);
  const std::string host = opts_.http_host.empty() ? opts_.host : opts_.http_host;
  return monitor_->start(host, opts_.http_port < 0 ? 0 : opts_.http_port);
}

status server_core::write_ports_file() {
  const std::string scheme = opts_.tls.enabled ? "tls" : "nats";
  const std::string host = opts_.host == "0.0.0.0" ? "127.0.0.1" : opts_.host;
  nlohmann::ordered_json j;
  j["nats"] = {scheme + "://" + host + ":" + std::to_string(port_)};
  if (monitor_) j["monitoring"] = {"http://" + host + ":" + std::to_string(monitor_->port())};
  std::filesystem::path path = std::filesystem::path(opts_.ports_file_dir) /
                               ("ferryd_" + std::to_string(::getpid()) + ".ports");
  // Written to a temporary name and renamed, so that a reader never sees a partial file.
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << protocol::go_json(j);
    if (!f) return io_error("could not write ports file " + path.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return io_error("could not write ports file " + path.string() + ": " + ec.message());
  ports_file_ = path.string();
  return status::ok();
}

int server_core::http_port() const { return monitor_ ? monitor_->port() : 0; }

void server_core::accept_next() {
  if (stopping_.load()) return;
  worker& w = *workers_[next_worker_++ % workers_.size()];
  acceptor_->async_accept(w.io(), [this, &w](const std::error_code& ec, asio::ip::tcp::socket sock) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_.load()) return;
      spdlog::error("accept error: {}", ec.message());
      // Out of file descriptors and the like: back off briefly instead of spinning.
      auto t = std::make_shared<asio::steady_timer>(workers_[0]->io(), std::chrono::milliseconds(50));
      t->async_wait([this, t](const std::error_code&) { accept_next(); });
      return;
    }
    const std::uint64_t id = next_client_id_.fetch_add(1) + 1;
    auto c = std::make_shared<connection>(*this, w, std::move(sock), id);
    const bool ok = add_client(c);
    asio::post(w.io(), [c, ok] { c->start(!ok); });
    accept_next();
  });
}

std::string server_core::info_line(std::uint64_t client_id, std::string_view client_ip) const {
  std::string s = info_prefix_;
  s += ",\"client_id\":";
  s += std::to_string(client_id);
  if (!client_ip.empty()) {
    s += ",\"client_ip\":";
    s += protocol::go_json_string(client_ip);
  }
  s += "} \r\n";
  return s;
}

std::size_t server_core::publish(worker* w, std::string_view subject, std::string_view reply,
                                 std::string_view headers, std::string_view data, const route_options& o,
                                 bool empty_reply_field) {
  // The encoder copies the payload together with the CRLF that follows it in memory, so the
  // message is laid out as a client's frame would be: headers, data, CRLF.
  thread_local std::string scratch;
  std::string local;
  std::string& buf = scratch.empty() ? scratch : local;  // re-entrant: nested publishes get their own
  buf.clear();
  buf.reserve(headers.size() + data.size() + 2);
  buf.append(headers);
  buf.append(data);
  buf.append("\r\n");
  protocol::pub_frame f;
  f.subject = subject;
  f.reply = reply;
  f.header_size = headers.size();
  f.hpub = !headers.empty();
  f.data = std::string_view(buf.data(), headers.size() + data.size());
  f.empty_reply_field = empty_reply_field;
  const std::size_t n = route(w, f, nullptr, o);
  buf.clear();
  return n;
}

namespace {

// An internal subscriber: the JetStream API, acknowledgements, stream subjects.
class internal_target final : public delivery_target {
 public:
  explicit internal_target(js::internal_handler fn) : fn_(std::move(fn)) {}
  bool deliver(subscription&, const routed_message& m, worker* from) override { return fn_(m.frame, from); }
  [[nodiscard]] std::uint64_t client_id() const override { return 0; }

 private:
  js::internal_handler fn_;
};

}  // namespace

bool server_core::has_interest(std::string_view subject) { return !sublist_.match(subject)->empty(); }

subscription_ptr server_core::subscribe(const std::string& subject, js::internal_handler fn) {
  auto s = std::make_shared<subscription>(std::make_shared<internal_target>(std::move(fn)), subject, "", "js");
  (void)sublist_.insert(s);
  return s;
}

void server_core::unsubscribe(const subscription_ptr& s) {
  s->closed.store(true, std::memory_order_release);
  sublist_.remove(s);
}

std::size_t server_core::route(worker* w, const protocol::pub_frame& f, delivery_target* publisher,
                               const route_options& o) {
  // Nested routing (an internal subscriber publishing while it handles a delivery) must not
  // disturb the outer call's cached match or encoding, so only the outermost call uses them.
  // A subject nobody listens to returns before anything else is set up (no encoder, no
  // match_ptr): it is the whole cost of a publish without subscribers.
  thread_local int depth = 0;
  const std::string_view match_subject = o.match_subject.empty() ? f.subject : o.match_subject;
  std::size_t n = 0;
  if (w != nullptr && depth == 0) {
    const match_result& r = w->cache().match(match_subject);
    if (r.empty()) return 0;
    ++depth;
    n = deliver(w, f, publisher, o, r, w->encoding());
  } else {
    const match_ptr held = sublist_.match(match_subject);
    if (held->empty()) return 0;
    protocol::message_encoding local;
    ++depth;
    n = deliver(w, f, publisher, o, *held, local);
  }
  --depth;
  return n;
}

std::size_t server_core::deliver(worker* w, const protocol::pub_frame& f, delivery_target* publisher,
                                 const route_options& o, const match_result& r, protocol::message_encoding& enc) {
  enc.reset(f.subject, f.reply, f.header_size, f.data, f.header_token, f.size_token, f.empty_reply_field);
  routed_message m{f, enc, publisher != nullptr ? publisher->client_id() : 0};
  const bool no_echo = publisher != nullptr && publisher->no_echo();
  std::size_t n = 0;
  for (const subscription_ptr& s : r.plain) {
    if (no_echo && s->target.get() == publisher) continue;
    if (o.clients_only && s->target->client_id() == 0) continue;
    if (s->target->deliver(*s, m, w)) ++n;
  }
  for (const match_result::group& g : r.queues) {
    const std::size_t k = g.members.size();
    const std::size_t start = k > 1 ? fast_random() % k : 0;
    for (std::size_t i = 0; i < k; ++i) {
      const subscription_ptr& s = g.members[(start + i) % k];
      if (no_echo && s->target.get() == publisher) continue;
      if (o.clients_only && s->target->client_id() == 0) continue;
      if (s->target->deliver(*s, m, w)) {
        ++n;
        break;
      }
    }
  }
  return n;
}

bool server_core::add_client(const std::shared_ptr<connection>& c) {
  std::lock_guard lock(clients_mu_);
  if (stopping_.load() || clients_.size() >= static_cast<std::size_t>(opts_.max_connections)) return false;
  clients_.emplace(c->client_id(), c);
  total_connections_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void server_core::remove_client(std::uint64_t id) {
  std::lock_guard lock(clients_mu_);
  clients_.erase(id);
}

std::vector<std::shared_ptr<connection>> server_core::clients() const {
  std::lock_guard lock(clients_mu_);
  std::vector<std::shared_ptr<connection>> out;
  out.reserve(clients_.size());
  for (const auto& [id, c] : clients_) out.push_back(c);
  return out;
}

std::size_t server_core::num_clients() const {
  std::lock_guard lock(clients_mu_);
  return clients_.size();
}

server_stats server_core::stats() const {
  server_stats s;
  for (const auto& w : workers_) {
    s.in_msgs += w->stats.in_msgs.load(std::memory_order_relaxed);
    s.in_bytes += w->stats.in_bytes.load(std::memory_order_relaxed);
    s.out_msgs += w->stats.out_msgs.load(std::memory_order_relaxed);
    s.out_bytes += w->stats.out_bytes.load(std::memory_order_relaxed);
  }
  s.connections = num_clients();
  s.total_connections = total_connections_.load(std::memory_order_relaxed);
  s.subscriptions = sublist_.stats().subscriptions;
  s.slow_consumers = slow_consumers_.load(std::memory_order_relaxed);
  return s;
}

void server_core::shutdown() {
  std::lock_guard guard(shutdown_mu_);
  if (shut_down_ || workers_.empty()) return;
  shut_down_ = true;
  stopping_.store(true);
  spdlog::info("Initiating shutdown");
  if (monitor_) monitor_->stop();
  // Stop accepting, on the acceptor's own thread.
  std::promise<void> closed;
  asio::post(workers_[0]->io(), [this, &closed] {
    std::error_code ec;
    acceptor_->close(ec);
    closed.set_value();
  });
  closed.get_future().wait_for(std::chrono::seconds(2));
  for (auto& c : clients()) c->close(close_reason::server_shutdown);
  // JetStream stops after the clients (no more publishes) and before the workers, so that its
  // last acknowledgements can still go out.
  if (jetstream_) jetstream_->stop();
  // Give the workers a moment to send the final bytes and release the sockets.
  for (int i = 0; i < 200 && num_clients() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (auto& w : workers_) w->stop();
  // Drop every reference to connections before their io_contexts go away.
  {
    std::lock_guard lock(clients_mu_);
    clients_.clear();
  }
  std::vector<subscription_ptr> left;
  sublist_.for_each([&](const subscription_ptr& s) { left.push_back(s); });
  for (auto& s : left) sublist_.remove(s);
  left.clear();
  for (auto& w : workers_) w->release_state();
  workers_.clear();
  acceptor_.reset();
  if (!ports_file_.empty()) std::filesystem::remove(ports_file_);
  spdlog::info("Server Exiting..");
}

std::string validate(const server_options& o) {
  if (o.max_payload <= 0) return "max_payload must be positive";
  if (o.max_payload > 64LL * 1024 * 1024) return "max_payload can not exceed 64 MiB";
  if (o.max_pending > 0 && o.max_payload > o.max_pending)
    return "max_payload (" + std::to_string(o.max_payload) + ") can not be larger than max_pending (" +
           std::to_string(o.max_pending) + ")";
  if (o.max_control_line < 64) return "max_control_line must be at least 64";
  if (o.max_connections <= 0) return "max_connections must be positive";
  if (o.ping_max <= 0) return "ping_max must be positive";
  if (o.ping_interval.count() <= 0) return "ping_interval must be positive";
  if (o.write_deadline.count() <= 0) return "write_deadline must be positive";
  if (!o.auth.token.empty() && !o.auth.users.empty()) return "can not have a token and users at the same time";
  if (o.tls.enabled && (o.tls.cert_file.empty() || o.tls.key_file.empty()))
    return "TLS needs both a certificate (tlscert) and a key (tlskey)";
  if (o.tls.verify && o.tls.ca_file.empty()) return "TLS client verification (tlsverify) needs a CA file (tlscacert)";
  if (o.port < -1 || o.port > 65535) return "port must be between -1 and 65535";
  if (o.http_port < -1 || o.http_port > 65535) return "http_port must be between -1 and 65535";
  return {};
}

}  // namespace ferry::broker
