// nats: the NATS core transport, over nats.c (libnats). Works unchanged against ferryd and
// nats-server (a single server or a cluster: give every URL, comma-separated).
//
//   auto t = ferry::nats::connect("nats://127.0.0.1:4222", {.name = "billing"});
//   if (!t.is_ok()) return t.status();
//   auto sub = (*t)->subscribe("order.*", {.group = "billing"}, on_order);  // a queue group
//
// Model: at-most-once, like NATS core. A subscription is a NATS subscription (with `group` as
// its queue group, so each message goes to one member); wildcards as NATS. Each subscription has
// one delivery thread that takes messages from the client library and calls the callback, one at
// a time, in order, while fewer than max_in_flight deliveries are unsettled (then it waits: the
// library buffers up to `pending_limit` messages, past which NATS drops them as a slow
// consumer). ack/nack/term only free the in-flight slot: there is no redelivery. The message id
// travels in the `Nats-Msg-Id` header and the key in `Ferry-Key`; other headers as given (names
// are case-sensitive; values may hold any byte but NUL, CR and LF, which publish refuses).
// request() is a NATS request: `unavailable` when no one subscribes (no responders),
// `deadline_exceeded` on timeout. The connection reconnects on its own (reconnect_* options);
// publishes made while disconnected wait in a buffer of reconnect_buffer_bytes.
//
// Thread safety: every method is thread-safe; callbacks run on the subscriptions' threads, never
// under a transport lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "ferry/connect.h"
#include "ferry/result.h"
#include "ferry/transport.h"

namespace ferry::nats {

struct options {
  std::string name = "ferry";  // the connection name the server shows
  std::chrono::milliseconds connect_timeout{2000};
  // Reconnection: attempts (-1: forever), the pause between two attempts on one server, and how
  // many bytes of publishes are kept while disconnected.
  int max_reconnect = -1;
  std::chrono::milliseconds reconnect_wait{100};
  int reconnect_buffer_bytes = 64 * 1024 * 1024;
  // connect() succeeds while no server is up yet and keeps trying in the background.
  bool retry_on_failed_connect = false;
  std::string user, password, token;
  // Messages the client library holds per subscription beyond the in-flight ones.
  int pending_limit = 1 << 20;
  // The longest a request or a pull waits inside one library call; bounds how long stop() waits
  // for a delivery thread when the library cannot be interrupted.
  std::chrono::milliseconds poll_interval{500};
};

// Connects to `url` ("nats://host:port", several comma-separated). Fails with `unavailable`
// when no server answers (unless retry_on_failed_connect).
result<std::unique_ptr<transport>> connect(const std::string& url, options o = {});

// nats://[user:pass@]host:port,host2:port?key=value: keys name, connect_timeout, max_reconnect,
// reconnect_wait, reconnect_buffer_bytes, retry_on_failed_connect, user, password, token,
// pending_limit, poll_interval (the fields of `options`; durations such as 2s). No host:
// 127.0.0.1:4222.
result<std::unique_ptr<transport>> connect_url(const transport_url& url);

}  // namespace ferry::nats
