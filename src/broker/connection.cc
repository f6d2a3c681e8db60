// connection: lifecycle, reading, timers and closing. Output is in connection_output.cc,
// the protocol operations in connection_ops.cc.
#include "broker/connection.h"

#include <asio/post.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <random>

#include "broker/core.h"
#include "broker/worker.h"

namespace ferry::broker {

namespace {

constexpr std::chrono::milliseconds linger{1000};
constexpr std::chrono::milliseconds stall_step{1};
constexpr std::size_t streaming_read = 16 * 1024;  // a read this large means a stream is flowing
// At most this long per batch, so that a stuck subscriber cannot stall a publisher for long:
// it is cut off as a slow consumer instead.
constexpr std::chrono::milliseconds stall_max{10};


bool is_hard(close_reason r) {
  switch (r) {
    case close_reason::slow_consumer_pending:
    case close_reason::slow_consumer_deadline:
    case close_reason::write_error:
    case close_reason::read_error:
    case close_reason::client_closed:
    case close_reason::tls_error:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::int64_t connection::steady_ns_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* to_string(close_reason r) {
  switch (r) {
    case close_reason::client_closed: return "Client Closed";
    case close_reason::server_shutdown: return "Server Shutdown";
    case close_reason::protocol_violation: return "Protocol Violation";
    case close_reason::parse_error: return "Parse Error";
    case close_reason::auth_violation: return "Authentication Failure";
    case close_reason::auth_timeout: return "Authentication Timeout";
    case close_reason::max_payload: return "Maximum Message Payload Exceeded";
    case close_reason::max_control_line: return "Maximum Control Line Exceeded";
    case close_reason::max_connections: return "Maximum Connections Exceeded";
    case close_reason::stale_connection: return "Stale Connection";
    case close_reason::slow_consumer_pending: return "Slow Consumer (Pending Bytes)";
    case close_reason::slow_consumer_deadline: return "Slow Consumer (Write Deadline)";
    case close_reason::write_error: return "Write Error";
    case close_reason::read_error: return "Read Error";
    case close_reason::tls_error: return "TLS Handshake Failure";
    case close_reason::bad_client_protocol: return "Bad Client Protocol Version";
    case close_reason::no_responders_requires_headers: return "No Responders Requires Headers";
  }
  return "Unknown";
}

connection::connection(server_core& core, worker& owner, asio::ip::tcp::socket socket, std::uint64_t id)
    : core_(core),
      owner_(owner),
      id_(id),
      socket_(std::move(socket)),
      use_tls_(core.options().tls.enabled),
      start_time_(std::chrono::system_clock::now()),
      ping_timer_(owner.io()),
      auth_timer_(owner.io()),
      write_timer_(owner.io()),
      stall_timer_(owner.io()),
      max_pending_(static_cast<std::size_t>(core.options().max_pending)),
      stall_at_(static_cast<std::size_t>(core.options().max_pending) / 4 * 3) {
  const server_options& o = core.options();
  protocol::parser_limits limits;
  limits.max_payload = static_cast<std::size_t>(o.max_payload);
  limits.max_control_line = static_cast<std::size_t>(o.max_control_line);
  parser_.set_limits(limits);
  parser_.set_require_connect(core.auth().required());
  stages_ = std::make_unique<stage[]>(core.workers().size());
  fd_ = socket_.native_handle();
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    ip_ = ep.address().to_string();
    port_ = ep.port();
  }
  last_in_ns_.store(steady_ns_now(), std::memory_order_relaxed);
}

connection::~connection() = default;

void connection::start(bool over_limit) {
  std::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  std::string info = core_.info_line(id_, ip_);
  if (over_limit) {
    spdlog::warn("{}:{} - cid:{} - maximum connections ({}) exceeded", ip_, port_, id_,
                 core_.options().max_connections);
    send(info, &owner_);
    close(close_reason::max_connections, protocol::err_frame(protocol::client_error::maximum_connections_exceeded));
    owner_.run_flushes();
    return;
  }
  spdlog::debug("{}:{} - cid:{} - client connection created", ip_, port_, id_);
  if (use_tls_) {
    // INFO goes in the clear; the client then starts the TLS handshake (nats-server 2.9).
    auto self = shared_from_this();
    auto text = std::make_shared<std::string>(std::move(info));
    asio::async_write(socket_, asio::buffer(*text), [self, text](const std::error_code& e, std::size_t) {
      if (e) {
        self->close(close_reason::write_error);
        return;
      }
      self->start_tls();
    });
    return;
  }
  send(info, &owner_);
  start_reading();
  owner_.run_flushes();
}

void connection::start_tls() {
  tls_.emplace(socket_, *core_.tls_context());
  auto self = shared_from_this();
  auth_timer_.expires_after(core_.options().tls.timeout);
  auth_timer_.async_wait([self](const std::error_code& ec) {
    if (ec || self->tls_ready_) return;
    spdlog::debug("{}:{} - cid:{} - TLS handshake timeout", self->ip_, self->port_, self->id_);
    self->close(close_reason::tls_error);
  });
  tls_->async_handshake(asio::ssl::stream_base::server, [self](const std::error_code& ec) {
    self->auth_timer_.cancel();
    if (ec) {
      spdlog::debug("{}:{} - cid:{} - TLS handshake error: {}", self->ip_, self->port_, self->id_, ec.message());
      self->close(close_reason::tls_error);
      return;
    }
    self->tls_ready_ = true;
    self->start_reading();
    self->flush(&self->owner_);
  });
}

void connection::start_reading() {
  if (core_.auth().required()) arm_auth_timer();
  const auto interval = core_.options().ping_interval;
  auto first = std::min<std::chrono::nanoseconds>(interval, std::chrono::seconds(2));
  // The first PING goes within 2 s (to measure the round trip), randomized by up to 20%.
  thread_local std::minstd_rand rng(std::random_device{}());
  const auto jitter = first.count() / 5 > 0 ? static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(first.count() / 5)) : 0;
  arm_ping_timer(first + std::chrono::nanoseconds(jitter));
  read_some();
}

void connection::read_some() {
  std::span<char> buf = parser_.prepare();
  auto self = shared_from_this();
  reading_ = true;
  auto handler = [self](const std::error_code& ec, std::size_t n) { self->on_read(ec, n); };
  if (tls_) {
    tls_->async_read_some(asio::buffer(buf.data(), buf.size()), std::move(handler));
  } else {
    socket_.async_read_some(asio::buffer(buf.data(), buf.size()), std::move(handler));
  }
}

void connection::on_read(const std::error_code& ec, std::size_t n) {
  reading_ = false;
  if (closed_.load(std::memory_order_acquire)) {
    // Closing: discard what the client still sends until it closes or the linger ends.
    if (ec || n == 0) {
      if (socket_shut_) {
        std::error_code ignored;
        write_timer_.cancel();
        socket_.close(ignored);
      }
      return;
    }
    parser_.commit(0);
    read_some();
    return;
  }
  if (ec) {
    close(ec == asio::error::eof ? close_reason::client_closed : close_reason::read_error);
    return;
  }
  parser_.commit(n);
  if (n >= streaming_read) owner_.note_streaming();
  last_in_ns_.store(steady_ns_now(), std::memory_order_relaxed);
  // Output this batch produced is flushed at the end of the worker's round (worker::run_loop).
  const protocol::parse_status st = parser_.process(*this);
  if (st != protocol::parse_status::need_more) {
    handle_parse_status(st);
    return;
  }
  if (closed_.load(std::memory_order_acquire)) return;
  stalled_on_ = owner_.take_congested();
  stalled_for_ = {};
  stall_or_read();
}

void connection::stall_or_read() {
  // nats-server stalls fast producers the same way: give congested subscribers a moment to
  // drain before reading more from this publisher.
  std::erase_if(stalled_on_, [](const std::shared_ptr<connection>& c) { return !c->congested(); });
  if (stalled_on_.empty() || stalled_for_ >= stall_max) {
    stalled_on_.clear();
    read_some();
    return;
  }
  stalled_for_ += stall_step;
  auto self = shared_from_this();
  stall_timer_.expires_after(stall_step);
  stall_timer_.async_wait([self](const std::error_code& e) {
    if (e || self->closed_.load(std::memory_order_acquire)) return;
    self->stall_or_read();
  });
}

bool connection::congested() const {
  std::lock_guard lock(out_mu_);
  return state_ == out_state::open && queue_.size() + inflight_ > stall_at_;
}

void connection::handle_parse_status(protocol::parse_status st) {
  using protocol::client_error;
  using protocol::parse_status;
  switch (st) {
    case parse_status::need_more:
      return;
    case parse_status::stopped:
      close(close_reason::protocol_violation);  // a handler already closed, or the client sent -ERR
      return;
    case parse_status::unknown_op:
      spdlog::debug("{}:{} - cid:{} - parser error: unknown protocol operation", ip_, port_, id_);
      close(close_reason::parse_error, protocol::err_frame(client_error::unknown_protocol_operation));
      return;
    case parse_status::control_line_too_long:
      close(close_reason::max_control_line, protocol::err_frame(client_error::maximum_control_line_exceeded));
      return;
    case parse_status::payload_too_large:
      spdlog::warn("{}:{} - cid:{} - maximum payload exceeded (max {})", ip_, port_, id_,
                   core_.options().max_payload);
      close(close_reason::max_payload, protocol::err_frame(client_error::maximum_payload_violation));
      return;
    case parse_status::auth_required:
      spdlog::warn("{}:{} - cid:{} - authorization violation: first operation is not CONNECT", ip_, port_, id_);
      close(close_reason::auth_violation, protocol::err_frame(client_error::authorization_violation));
      return;
    case parse_status::bad_arguments:
      spdlog::debug("{}:{} - cid:{} - malformed protocol arguments", ip_, port_, id_);
      close(close_reason::parse_error);
      return;
    case parse_status::headers_not_supported:
      spdlog::debug("{}:{} - cid:{} - HPUB without headers support", ip_, port_, id_);
      close(close_reason::protocol_violation);
      return;
  }
}

// ---- timers ----

void connection::arm_ping_timer(std::chrono::nanoseconds d) {
  auto self = shared_from_this();
  ping_timer_.expires_after(d);
  ping_timer_.async_wait([self](const std::error_code& ec) {
    if (ec || self->closed_.load(std::memory_order_acquire)) return;
    self->on_ping_timer();
  });
}

void connection::on_ping_timer() {
  const server_options& o = core_.options();
  const auto since_in = std::chrono::nanoseconds(steady_ns_now() - last_in_ns_.load(std::memory_order_relaxed));
  // Like nats-server: skip the PING if the client was heard from within the interval, except
  // that the first one always goes, to measure the round trip.
  if (rtt_measured_ && since_in < o.ping_interval) {
    arm_ping_timer(o.ping_interval);
    return;
  }
  if (pings_out_ + 1 > o.ping_max) {
    spdlog::debug("{}:{} - cid:{} - stale client connection, closing", ip_, port_, id_);
    close(close_reason::stale_connection, protocol::err_frame(protocol::client_error::stale_connection));
    owner_.run_flushes();
    return;
  }
  ++pings_out_;
  if (!rtt_measured_) rtt_start_ = std::chrono::steady_clock::now();
  send("PING\r\n", &owner_);
  owner_.run_flushes();
  arm_ping_timer(o.ping_interval);
}

void connection::arm_auth_timer() {
  const server_options& o = core_.options();
  auto timeout = o.auth.timeout;
  if (timeout.count() == 0) {
    timeout = o.tls.enabled ? o.tls.timeout + std::chrono::seconds(1) : std::chrono::milliseconds(2000);
  }
  auto self = shared_from_this();
  auth_timer_.expires_after(timeout);
  auth_timer_.async_wait([self](const std::error_code& ec) {
    if (ec || self->connected_ || self->closed_.load(std::memory_order_acquire)) return;
    spdlog::warn("{}:{} - cid:{} - authentication timeout", self->ip_, self->port_, self->id_);
    self->close(close_reason::auth_timeout, protocol::err_frame(protocol::client_error::authentication_timeout));
    self->owner_.run_flushes();
  });
}

// ---- closing ----

void connection::close(close_reason why, std::string err) {
  {
    std::lock_guard lock(out_mu_);
    if (state_ != out_state::open) return;
    state_ = out_state::closing;
    reason_ = why;
    if (is_hard(why)) {
      discard_output_ = true;
      queue_.clear();
    } else {
      // What this thread staged (replies earlier in the batch) goes out before the -ERR.
      if (worker* w = worker::current()) merge_stage_locked(stages_[w->index()]);
      queue_.append(err);
    }
    update_queued_locked();
  }
  closed_.store(true, std::memory_order_release);
  auto self = shared_from_this();
  asio::post(owner_.io(), [self, why] { self->finish_close(why); });
}

void connection::finish_close(close_reason why) {
  if (why == close_reason::client_closed) {
    spdlog::debug("{}:{} - cid:{} - client connection closed: {}", ip_, port_, id_, to_string(why));
  } else if (why == close_reason::server_shutdown) {
    spdlog::debug("{}:{} - cid:{} - closing: {}", ip_, port_, id_, to_string(why));
  } else {
    spdlog::info("{}:{} - cid:{} - connection closed: {}", ip_, port_, id_, to_string(why));
  }
  std::error_code ec;
  ping_timer_.cancel();
  auth_timer_.cancel();
  stall_timer_.cancel();
  remove_all_subscriptions();
  core_.remove_client(id_);
  bool writer_busy;
  bool has_output;
  {
    std::lock_guard lock(out_mu_);
    writer_busy = flush_queued_;
    has_output = !queue_.empty();
    if (!writer_busy && has_output) flush_queued_ = true;  // this thread takes the role
  }
  if (is_hard(why)) {
    // Wake a writer blocked on this socket so that it gives up its role.
    ::shutdown(fd_, SHUT_RDWR);
    socket_.cancel(ec);
  }
  if (!writer_busy && has_output) {
    start_writing();  // the writer posts shutdown_socket() when done
  } else if (!writer_busy) {
    shutdown_socket();
  }
}

void connection::shutdown_socket() {
  if (socket_shut_) return;
  socket_shut_ = true;
  {
    std::lock_guard lock(out_mu_);
    state_ = out_state::closed;
  }
  std::error_code ec;
  if (discard_output_) {
    socket_.close(ec);
    return;
  }
  // Send FIN after the final bytes, then read until the client closes, so that unread input
  // does not turn the close into a reset that could destroy the -ERR before it is read.
  ::shutdown(fd_, SHUT_WR);
  auto self = shared_from_this();
  write_timer_.expires_after(linger);
  write_timer_.async_wait([self](const std::error_code& e) {
    if (e) return;
    std::error_code ignored;
    self->socket_.close(ignored);
  });
  if (!reading_) read_some();
}

void connection::remove_all_subscriptions() {
  string_map<subscription_ptr> subs;
  {
    std::lock_guard lock(subs_mu_);
    subs.swap(subs_);
  }
  for (auto& [sid, s] : subs) {
    s->closed.store(true, std::memory_order_release);
    core_.subjects().remove(s);
  }
}

}  // namespace ferry::broker
