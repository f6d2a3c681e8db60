// client: the pieces both NATS transports (core and JetStream) share: one nats.c connection and
// the conversions between ferry and nats.c (messages, statuses, options).
//
// A `client` owns the natsConnection. It is shared (shared_ptr) by the transport, its
// subscriptions and the settlers of unsettled JetStream deliveries (which publish their acks on
// it), so the connection lives until the last of them is gone; close() only closes it, after which
// publishes, requests and subscriptions fail with `failed_precondition` and late acks are dropped.
//
// Thread safety: every method is thread-safe (nats.c connections are).
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/message.h"
#include "ferry/nats.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry::nats::detail {

// Frees nats.c objects.
struct msg_deleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

// The ferry status for a nats.c status: timeouts → deadline_exceeded, no responders and
// connection trouble → unavailable, and so on. `what` says what was being done.
status from_nats(natsStatus s, std::string_view what);

// A nats.c message for `m` (subject, reply, payload; headers plus Nats-Msg-Id = id and
// Ferry-Key = key). invalid_argument for a header nats.c cannot carry (a name that is empty or
// holds a space or ':'; a value with NUL, CR or LF).
result<msg_ptr> to_nats(const message& m);
// The ferry message for `msg` (id and key taken out of the headers). No delivery facts, no
// settler.
message from_nats(natsMsg* msg);
// The same, into `m` (a message just made: no id, key or headers yet), which saves a move where
// the message is built in its final place.
void from_nats(natsMsg* msg, message& m);

class client {
 public:
  static result<std::shared_ptr<client>> connect(const std::string& url, const options& o);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  [[nodiscard]] natsConnection* conn() const { return nc_; }
  [[nodiscard]] const options& opts() const { return opts_; }

  // A core NATS publish of `m` (fills in m.id when empty).
  status publish(message& m);
  // A core NATS publish of raw bytes (acks).
  status publish_raw(const std::string& subject, std::string_view data);
  // A core NATS request (see transport::request).
  result<message> request(message m, std::chrono::milliseconds timeout);
  status flush(std::chrono::milliseconds timeout);
  // From now on publish, request and subscribe_sync fail with failed_precondition (acks still go
  // out): a transport's close() calls it first, then stops its subscriptions and flushes.
  void refuse_calls();
  // Refuses calls and closes the connection (idempotent); the object stays valid.
  void close();
  // failed_precondition "<call> after the transport was closed" once close() was called, else ok.
  [[nodiscard]] status check_open(std::string_view call) const;
  // `s` (ok stays ok); a failure of `call`, though, gives check_open(call)'s status when the transport was closed
  // meanwhile (nats.c then says "connection closed", which reads as worth retrying).
  [[nodiscard]] status closed_or(std::string_view call, status s) const;

 private:
  client(natsConnection* nc, natsOptions* no, options o) : nc_(nc), nopts_(no), opts_(std::move(o)) {}
  natsConnection* const nc_;
  natsOptions* const nopts_;
  const options opts_;
  std::atomic<bool> closed_{false};
};

// NATS core subscription options shared by both transports.
// Subscribes `subject` (queue group `group` when non-empty) for synchronous delivery.
result<natsSubscription*> subscribe_sync(client& c, const std::string& subject, const std::string& group);

}  // namespace ferry::nats::detail
