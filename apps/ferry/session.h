// session: a libnats connection for the ferry CLI, with the options every command shares
// (--server, credentials, TLS), and small helpers for durations and headers.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::cli {

struct connect_options {
  std::string server = "nats://127.0.0.1:4222";
  std::string user, password, token;
  std::string tls_ca, tls_cert, tls_key;
  std::string name = "ferry";
  std::chrono::milliseconds timeout{2000};
  bool reconnect = false;  // keep reconnecting after a disconnect (sub, reply)
  bool send_asap = false;  // no client-side write batching (latency runs)
};

// Owns a natsConnection; destroys it on scope exit.
class session {
 public:
  static result<std::unique_ptr<session>> open(const connect_options& o);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  natsConnection* conn() { return nc_; }
  // The server's max_payload from its INFO.
  std::int64_t max_payload() { return natsConnection_GetMaxPayload(nc_); }

 private:
  explicit session(natsConnection* nc) : nc_(nc) {}
  natsConnection* nc_;
};

// Turns a libnats status into a status with the library's last error text.
status nats_error(const std::string& what, natsStatus s);

// "2s", "500ms", "1m", "1h", or a bare number of seconds.
result<std::chrono::milliseconds> parse_duration(const std::string& s);

// "Key:Value" (the value may contain ':'); whitespace around the value is trimmed.
result<std::pair<std::string, std::string>> parse_header(const std::string& s);

// Adds headers to a message; fails if the message cannot hold them.
status add_headers(natsMsg* m, const std::vector<std::string>& headers);

// Prints a received message as the nats CLI does: "[#n] Received on "subj"" and the body.
void print_message(natsMsg* m, long n, bool raw, bool header_line = true);

}  // namespace ferry::cli
