// js_api: what the ferry CLI's JetStream commands (stream, consumer, kv, dlq) share: raw
// $JS.API requests whose error replies, no-responders and timeouts become one-line statuses,
// stored messages, publishing with an acknowledgement, pull consumers, and output helpers.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/number.h"
#include "base/rfc3339.h"
#include "commands.h"
#include "session.h"

namespace CLI {
class App;
}

namespace ferry::cli {

using ojson = nlohmann::ordered_json;
using header_list = std::vector<std::pair<std::string, std::string>>;

// A natsMsg owned by the caller.
using msg_ptr = std::unique_ptr<natsMsg, void (*)(natsMsg*)>;
inline msg_ptr own(natsMsg* m) { return msg_ptr(m, natsMsg_Destroy); }

// A message read from a stream with $JS.API.STREAM.MSG.GET.
struct stored_message {
  std::string subject;
  std::uint64_t seq = 0;
  std::string time;  // RFC 3339, as the server wrote it
  header_list headers;
  std::string data;
  // The first value of header `name`, or nullptr.
  [[nodiscard]] const std::string* header(std::string_view name) const;
};

// A JetStream client for one command. Connects on first use, so that argument errors are
// reported before connection errors.
class js_client {
 public:
  explicit js_client(const connect_options& o) : opts_(o) {}
  result<natsConnection*> conn();
  [[nodiscard]] const std::string& server() const { return opts_.server; }

  // Sends `body` to $JS.API.<api> and returns the reply. An error reply becomes a status
  // "<what>: <description>" (just the description when `what` is empty); no responders is
  // "JetStream not enabled".
  result<ojson> request(const std::string& api, const std::string& body, const std::string& what);
  result<ojson> request(const std::string& api, const ojson& body, const std::string& what) {
    return request(api, body.dump(), what);
  }

  result<ojson> stream_info(const std::string& stream, const ojson& body = ojson::object());
  result<ojson> consumer_info(const std::string& stream, const std::string& consumer);
  // Names of the streams whose subjects overlap `subject` (every stream when empty), sorted.
  result<std::vector<std::string>> stream_names(const std::string& subject = "");
  // Every stream's (or `stream`'s consumers') info, following pages.
  result<std::vector<ojson>> list(const std::string& api, const std::string& key, const std::string& what);
  // Message `seq`, or the last message on `last_by_subject`, or the first at or after `seq` on
  // `next_by_subject`. A missing message is status_code::not_found.
  result<stored_message> get_message(const std::string& stream, std::uint64_t seq,
                                     const std::string& last_by_subject = "", const std::string& next_by_subject = "");
  status delete_message(const std::string& stream, std::uint64_t seq);
  status delete_consumer(const std::string& stream, const std::string& consumer);

  // Publishes to a stream's subject and waits for the acknowledgement; returns it
  // ({"stream":..., "seq":..., "duplicate":...}). No stream on the subject is an error.
  result<ojson> publish(const std::string& subject, const header_list& headers, const std::string& data);
  // Publishes without waiting for a stream (core NATS), then flushes.
  status publish_core(const std::string& subject, const header_list& headers, const std::string& data);

  // The err_code of the last error reply (10059: stream not found), 0 if it was no API error.
  [[nodiscard]] int last_api_error() const { return last_api_error_; }

 private:
  connect_options opts_;
  std::unique_ptr<session> session_;
  int last_api_error_ = 0;
};

// JetStream API error codes the commands look for.
inline constexpr int err_stream_not_found = 10059;
inline constexpr int err_consumer_not_found = 10014;

// After creating a stream or consumer with dead_letter_stream `dls`: checks that the server kept
// the setting (nats-server ignores unknown fields) and warns on stderr when stream `dls` does not
// exist, since dead letters are dropped until it does.
status check_dead_letter_stream(js_client& js, const ojson& config, const std::string& dls, const std::string& what);

// An error status with `message` (the code is not shown to users).
inline status error(std::string message) { return failed_precondition(std::move(message)); }

// What a JetStream message's reply subject ($JS.ACK...) says about it.
struct js_metadata {
  std::string stream, consumer;
  std::uint64_t deliveries = 0, stream_seq = 0, consumer_seq = 0, pending = 0;
  std::int64_t timestamp_ns = 0;
};
std::optional<js_metadata> parse_ack_subject(std::string_view reply);

// Pulls from a pull consumer through a private inbox.
class puller {
 public:
  puller(js_client& js, std::string stream, std::string consumer)
      : js_(js), stream_(std::move(stream)), consumer_(std::move(consumer)) {}
  ~puller();
  puller(const puller&) = delete;
  puller& operator=(const puller&) = delete;
  // Asks for up to `batch` messages; the server ends the request after `expires` (or, with
  // `no_wait`, as soon as it has nothing more).
  status pull(long batch, std::chrono::milliseconds expires, bool no_wait);
  // The next message of the current request; nullptr once the request has ended (or after
  // `wait`). A 409 (consumer deleted, push consumer, limits) is an error.
  result<msg_ptr> next(std::chrono::milliseconds wait);
  [[nodiscard]] bool active() const { return outstanding_ > 0; }

 private:
  js_client& js_;
  std::string stream_, consumer_, inbox_;
  natsSubscription* sub_ = nullptr;
  long outstanding_ = 0;
};

// The status code of a status message ("NATS/1.0 404 No Messages"), 0 for a normal one.
int status_code_of(natsMsg* m, std::string* description = nullptr);
header_list headers_of(natsMsg* m);
// Parses a raw "NATS/1.0\r\n..." header block.
header_list parse_header_block(std::string_view block);

// Durations: "30s", "1m30s", "500ms", "unlimited" for 0 and less.
std::string format_ns(std::int64_t ns);
result<std::int64_t> parse_duration_ns(const std::string& s);
// "1.5 KiB"; "unlimited" for negative values.
std::string format_bytes(std::int64_t n);

// Prints a reply without its "type" field, indented, on stdout.
void print_json(ojson j);
void print_headers(const header_list& h, const char* indent = "");
// Writes the payload and a newline.
void print_payload(std::string_view data);
// Prints "  Label:          value" (labels aligned at `width`).
void print_field(const std::string& label, const std::string& value, int width = 20);
// Prints rows as columns separated by two spaces; the first row is the heading.
void print_table(const std::vector<std::vector<std::string>>& rows);

// Registers `sub` to run `body` after parsing: an error status is printed as one line and the
// command exits with 1.
void on_run(command_list& out, CLI::App* sub, const connect_options& conn, std::function<status(js_client&)> body);

}  // namespace ferry::cli
