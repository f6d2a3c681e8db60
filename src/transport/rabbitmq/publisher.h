// publisher: the RabbitMQ transport's I/O thread for publishing. It owns one connection: channel 1
// in confirm mode for messages, channel 2 for requests (consuming RabbitMQ's direct reply-to
// pseudo-queue, without acks). Callers queue jobs; the thread publishes them, keeps every
// unconfirmed one, and completes them as the broker's basic.ack/nack/return frames arrive.
//
// A message published mandatory that no queue takes comes back (basic.return) before its confirm:
// it completes with unavailable. When the connection breaks, the thread connects again (backoff
// 100 ms to 2 s) and publishes every unconfirmed message again (same message-id: a consumer may
// see it twice, never not at all); a job still unconfirmed after publish_timeout fails with
// unavailable. Requests in flight fail with unavailable when the connection breaks (their reply
// queue is gone with it).
//
// A broker short of memory or disk blocks the connections that publish: it stops reading them
// until its alarm clears, and says so (connection.blocked, a capability this client announces).
// Meanwhile the thread publishes nothing more and keeps reading; queued and unconfirmed jobs fail
// after publish_timeout with the broker's reason. A write that does not finish within
// publish_timeout (the alarm came in the middle of a batch, or the broker or the network is stuck)
// is ended by a watchdog thread, which shuts the socket down: the connection breaks as above.
//
// Thread safety: every method is thread-safe; callbacks run on the I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ferry/rabbitmq.h"
#include "ferry/transport.h"
#include "transport/rabbitmq/amqp.h"

namespace ferry::rabbitmq::detail {

class publisher : public std::enable_shared_from_this<publisher> {
 public:
  // Connects (so that a bad address or password fails here) and starts the thread.
  static result<std::shared_ptr<publisher>> start(std::string address, options o);
  ~publisher();
  publisher(const publisher&) = delete;
  publisher& operator=(const publisher&) = delete;

  // Queues `m` (already checked, id set); `done` runs once with the outcome.
  void publish(message m, publish_callback done);
  // Queues several, keeping their order; `done(i, status)` for each.
  using batch_callback = std::function<void(std::size_t, status)>;
  void publish(std::vector<message> ms, batch_callback done);
  result<message> request(message m, std::chrono::milliseconds timeout);
  // Waits until nothing is queued or unconfirmed (or `timeout`: deadline_exceeded).
  status flush(std::chrono::milliseconds timeout);
  // Completes what it can within publish_timeout, fails the rest (cancelled), disconnects. On the
  // I/O thread (a publish_async callback) it refuses new messages at once and leaves the rest to a
  // thread of its own, which holds the publisher until the I/O thread has ended.
  void close();
  // True on the I/O thread, which runs the publish callbacks: a call there that waits for the
  // broker (publish, flush, request) would wait for itself.
  [[nodiscard]] bool on_io_thread() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  struct job {
    message m;
    publish_callback done;                 // a single message's, or
    std::shared_ptr<batch_callback> each;  // a batch's, shared by its jobs, with
    std::size_t index = 0;                 // this message's place in it
    std::chrono::steady_clock::time_point give_up;
    void finish(status s) {
      if (each) {
        (*each)(index, std::move(s));
      } else {
        done(std::move(s));
      }
    }
  };
  struct sent {
    job j;
    bool confirmed = false;
    status outcome;  // once confirmed
  };
  struct pending_request {
    std::string token;  // correlation id
    message m;          // the request, until the thread publishes it
    bool published = false;
    bool finished = false;
    result<message> reply = deadline_exceeded("no reply");
  };

  publisher(std::string address, options o) : address_(std::move(address)), options_(std::move(o)) {}
  void run();
  status connect();
  // Publishes the queued jobs and requests; false when the connection broke.
  bool send_queued();
  // Reads and handles every frame that has arrived (waiting up to `wait` for the first).
  status read_frames(std::chrono::milliseconds wait);
  status on_frame(const amqp_frame_t& f);
  // The broker confirmed (ack) or refused (nack) tag `tag` (and every earlier one if `multiple`).
  void confirmed(std::uint64_t tag, bool multiple, bool ack);
  // Runs the callbacks of the confirmed prefix of sent_.
  void complete_prefix();
  // The connection broke: unconfirmed jobs go back to the queue, requests in flight fail.
  void connection_lost(const status& why);
  void fail_expired(std::chrono::steady_clock::time_point now);
  void finish_request(const std::string& token, result<message> r);
  void wake();
  // The watchdog thread's loop (see the top of this file).
  void watch();
  // The I/O thread starts (fd >= 0) or ends (-1) writing to its connection's socket `fd`; a
  // write that finishes in between moves the watchdog's clock on (progressed()).
  void writing(int fd);
  void progressed() { write_progress_.store(steady_ns(), std::memory_order_relaxed); }
  static std::int64_t steady_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
  // Drops the connection (without the close handshake while the broker blocks it).
  void disconnect();
  [[nodiscard]] bool idle_locked() const { return queue_.empty() && in_flight_ == 0; }
  // Waits (mu_ held through `lock`) until fewer than max_pending messages are queued or
  // unconfirmed: failed_precondition once closing, resource_exhausted after publish_timeout. The
  // I/O thread (a callback publishing) never waits: only it makes room.
  status wait_for_room(std::unique_lock<std::mutex>& lock);
  // in_flight_ went down or the queue shrank (mu_ held).
  void room_made_locked() {
    if (room_waiters_ > 0) room_cv_.notify_all();
  }

  const std::string address_;
  const options options_;
  int wake_fd_ = -1;
  std::thread thread_;         // guarded by mu_ once started
  std::thread watchdog_;       // guarded by mu_
  // Set before anyone else sees the publisher; cleared when the thread ends (a new thread may get
  // its id).
  std::atomic<std::thread::id> thread_id_;

  std::mutex mu_;
  std::condition_variable idle_cv_;                                   // nothing queued or unconfirmed (flush)
  std::condition_variable reply_cv_;                                  // a request finished
  std::condition_variable room_cv_;                                   // below max_pending again, or closing
  int room_waiters_ = 0;                                              // guarded by mu_
  std::deque<job> queue_;                                             // guarded by mu_: not yet published
  std::deque<std::shared_ptr<pending_request>> request_queue_;        // guarded by mu_
  std::map<std::string, std::shared_ptr<pending_request>> requests_;  // guarded by mu_: by token
  std::size_t in_flight_ = 0;                                         // guarded by mu_: published, not yet confirmed
  bool closing_ = false;                                              // guarded by mu_
  bool started_ = false;              // guarded by mu_ once started: the threads were started
  bool ended_ = false;                // guarded by mu_: a close() joined the I/O thread
  std::condition_variable ended_cv_;  // ended_ became true

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  int writing_fd_ = -1;                          // guarded by watch_mu_: the socket being written, or -1
  bool watch_stop_ = false;                      // guarded by watch_mu_
  std::atomic<std::int64_t> write_progress_{0};  // when the last write began or finished (steady ns)
  std::atomic<bool> stalled_{false};             // the watchdog ended a write

  // The thread's own.
  std::unique_ptr<connection> conn_;
  std::deque<sent> sent_;  // unconfirmed, by delivery tag from first_tag_
  std::uint64_t first_tag_ = 1;
  std::vector<std::string> returned_;  // message-ids the broker returned (no queue took them)
  std::deque<job> retry_;              // unconfirmed when the connection broke: published first
  std::optional<std::string> blocked_;  // the broker's reason while it blocks this connection
  std::string trouble_;                 // why the connection last broke, until the broker confirms again
  std::chrono::milliseconds backoff_{0};
};

}  // namespace ferry::rabbitmq::detail
