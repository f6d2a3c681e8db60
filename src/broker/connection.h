// connection: one client of the broker, from accept to close.
//
// Threads. A connection is owned by one worker: its reads, parsing, timers, TLS and socket
// shutdown run on that worker's thread, so that state needs no lock. Publishers on any worker
// deliver into it through deliver(), which appends the encoded frame to a staging buffer that
// belongs to the publisher's worker (one per worker, no lock) and puts the connection on that
// worker's flush list. At the end of the publisher's read batch, flush() hands the staged batch
// to the writer under `out_mu_`: if no write is in progress the staged buffer itself becomes
// a chunk of the output queue (no copy) and the stage takes a recycled buffer. The writer role
// (`flush_queued_`) then sends with non-blocking send()s from the flushing thread; if the
// socket is full, the owner waits for it to drain and continues. No lock is held while
// writing, and the lock is taken once per batch, not per message. TLS connections always
// write from the owner.
//
// Back-pressure. Queued output is bounded by max_pending: past it the client is a slow
// consumer and is cut off; past 3/4 of it the publisher that fills it is stalled briefly.
// A write blocked for longer than write_deadline also cuts the client off.
#pragma once

#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/byte_buffer.h"
#include "base/string_hash.h"
#include "broker/auth.h"
#include "broker/client_options.h"
#include "broker/out_queue.h"
#include "broker/subscription.h"
#include "protocol/errors.h"
#include "protocol/parser.h"

namespace ferry::broker {

class server_core;
class worker;

enum class close_reason : std::uint8_t {
  client_closed,
  server_shutdown,
  protocol_violation,
  parse_error,
  auth_violation,
  auth_timeout,
  max_payload,
  max_control_line,
  max_connections,
  stale_connection,
  slow_consumer_pending,
  slow_consumer_deadline,
  write_error,
  read_error,
  tls_error,
  bad_client_protocol,
  no_responders_requires_headers,
};
const char* to_string(close_reason r);

// A point-in-time view of a connection for monitoring (/connz).
struct connection_info {
  std::uint64_t cid = 0;
  std::string ip;
  int port = 0;
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point last_activity;
  std::chrono::nanoseconds rtt{0};
  std::uint64_t pending_bytes = 0;
  std::uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  std::uint64_t num_subs = 0;
  std::string name, lang, version, user;
  bool tls = false;
  std::vector<std::string> subs;
};

class connection final : public delivery_target, public std::enable_shared_from_this<connection> {
 public:
  connection(server_core& core, worker& owner, asio::ip::tcp::socket socket, std::uint64_t id);
  ~connection() override;

  // Sends INFO and starts reading. `over_limit`: the server already has max_connections
  // clients, so this one gets INFO and an -ERR and is closed. Owner thread.
  void start(bool over_limit);

  // delivery_target. Any thread.
  bool deliver(subscription& s, const routed_message& m, worker* from) override;
  [[nodiscard]] std::uint64_t client_id() const override { return id_; }
  [[nodiscard]] bool no_echo() const override { return no_echo_.load(std::memory_order_relaxed); }

  // Queues raw protocol bytes (PONG, +OK, -ERR, server-made messages). Any thread; `from` as
  // in deliver().
  void send(std::string_view bytes, worker* from);
  // Queues a complete server-made message for subscription `sid`. Any thread.
  void send_msg(std::string_view subject, std::string_view sid, std::string_view reply,
                std::string_view headers, std::string_view payload, worker* from);

  // Moves what `from` staged into the output and writes it if no one else is writing.
  // Called by a worker's run_flushes() (from == that worker), or on the owner (from == owner).
  void flush(worker* from);

  // Closes the connection; `err` (an -ERR frame) is sent first if given. Any thread;
  // idempotent.
  void close(close_reason why, std::string err = {});

  [[nodiscard]] connection_info info(bool with_subs) const;
  // Whether pending output is past the stall threshold (3/4 of max_pending). Any thread.
  [[nodiscard]] bool congested() const;
  [[nodiscard]] bool is_closed() const { return closed_.load(std::memory_order_acquire); }
  worker& owner() { return owner_; }

  // Parser handler (owner thread). Public for the parser template; not for other callers.
  bool on_connect(std::string_view json);
  bool on_pub(const protocol::pub_frame& f);
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid);
  bool on_unsub(std::string_view sid, std::int64_t max);
  bool on_ping();
  bool on_pong();
  bool on_ok() { return true; }
  bool on_info(std::string_view json);
  bool on_err(std::string_view text);

  // Nanoseconds on the steady clock.
  static std::int64_t steady_ns_now();

 private:
  enum class out_state : std::uint8_t { open, closing, closed };
  // Per-worker staging of deliveries within one batch; stages_[i] is touched only by worker i.
  struct stage {
    byte_buffer buf;
    std::uint64_t msgs = 0;
    std::uint64_t bytes = 0;
  };


  // Reading (owner).
  void start_reading();
  void read_some();
  void on_read(const std::error_code& ec, std::size_t n);
  void handle_parse_status(protocol::parse_status st);
  // Waits (timer steps) while a destination of the last batch is congested, then reads.
  void stall_or_read();
  // TLS (owner).
  void start_tls();
  // Writing.
  void write_direct();           // any thread, holding the writer role
  void wait_writable();          // owner
  void write_tls();              // owner, holding the writer role
  void schedule(worker* from);     // arranges for flush() after the current batch
  void merge_stage_locked(stage& st);
  void update_queued_locked() { queued_.store(queue_.size() + inflight_, std::memory_order_relaxed); }
  // Marks that queue_ has output; true if the caller must schedule a flush.
  bool queued_locked();
  // The calling worker's stage, scheduling a flush the first time in a batch; nullptr if closed.
  stage* stage_for(worker* from);
  void deliver_locked_path(subscription& s, const routed_message& m, bool headers, std::size_t bytes,
                           std::size_t& queued);
  // Moves freed_ buffers to spares_ (bounded).
  void recycle_locked();
  // The writer takes queue_ as its writing_; false (role released) if there is nothing.
  bool take_queue_locked();
  void drop_output_and_release();
  // Takes the writer role and writes (TLS: on the owner). REQUIRES: the role was just taken.
  void start_writing();
  void writer_done_locked();
  // Timers (owner).
  void arm_ping_timer(std::chrono::nanoseconds d);
  void on_ping_timer();
  void arm_auth_timer();
  // Closing (owner).
  void finish_close(close_reason why);
  void shutdown_socket();
  void remove_all_subscriptions();
  void auto_unsubscribe(subscription& s);
  void send_no_responders(std::string_view reply);
  void send_err(protocol::client_error e);

  server_core& core_;
  worker& owner_;
  const std::uint64_t id_;
  asio::ip::tcp::socket socket_;
  const bool use_tls_;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  int fd_ = -1;
  std::string ip_;
  int port_ = 0;
  std::chrono::system_clock::time_point start_time_;

  // Owner-thread state.
  protocol::parser parser_;
  client_options opts_;
  bool connected_ = false;  // a CONNECT was accepted
  bool tls_ready_ = false;
  std::shared_ptr<const permission_set> perms_;
  publish_cache pub_cache_;
  asio::steady_timer ping_timer_;
  asio::steady_timer auth_timer_;
  asio::steady_timer write_timer_;  // write deadline, and the final linger on close
  asio::steady_timer stall_timer_;
  int pings_out_ = 0;
  bool rtt_measured_ = false;
  std::chrono::steady_clock::time_point rtt_start_;
  std::atomic<std::int64_t> rtt_ns_{0};
  std::atomic<std::int64_t> last_in_ns_{0};  // steady clock of the last bytes read
  std::atomic<std::uint64_t> in_msgs_{0}, in_bytes_{0};
  std::chrono::steady_clock::duration stalled_for_{};
  std::vector<std::shared_ptr<connection>> stalled_on_;  // destinations this publisher waits for
  bool reading_ = false;
  bool socket_shut_ = false;
  std::atomic<bool> deny_filter_{false};  // a wildcard sub overlaps the subscribe deny list

  // Subscriptions by sid; changed on the owner (and by auto-unsubscribe from any thread).
  mutable std::mutex subs_mu_;
  string_map<subscription_ptr> subs_;  // guarded by subs_mu_
  std::string name_, lang_, version_, user_;  // guarded by subs_mu_ (copies for monitoring)

  // Set once at CONNECT, read by deliverers on any thread.
  std::atomic<bool> client_headers_{false};
  std::atomic<bool> no_echo_{false};

  std::unique_ptr<stage[]> stages_;
  // queue_ plus what the writer holds: read without the lock for back-pressure checks.
  std::atomic<std::size_t> queued_{0};

  // Outbound state, guarded by out_mu_.
  mutable std::mutex out_mu_;
  out_queue queue_;
  std::vector<byte_buffer> spares_;  // emptied chunks, reused by stages
  bool flush_queued_ = false;       // someone holds the writer role
  bool flush_scheduled_ = false;    // queue_ has output and a flush() is arranged
  std::size_t inflight_ = 0;        // bytes swapped out to the writer, not yet written
  out_state state_ = out_state::open;
  bool discard_output_ = false;     // closing hard: drop what is pending
  std::uint64_t out_msgs_ = 0, out_bytes_ = 0;
  std::size_t max_pending_;
  std::size_t stall_at_;

  // The writer's chunks and the buffers it emptied; only the writer role touches them.
  out_queue writing_;
  std::vector<byte_buffer> freed_;

  std::atomic<bool> closed_{false};
  close_reason reason_ = close_reason::client_closed;
};

}  // namespace ferry::broker
