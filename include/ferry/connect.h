// connect: a transport from one URL, so a service moves from one broker to another by changing a
// string, not its code.
//
//   auto t = ferry::connect("kafka://10.0.0.1:9092,10.0.0.2:9092?client.id=orders");
//   auto t = ferry::connect("nats://127.0.0.1:4222?name=orders");
//   auto t = ferry::connect("jetstream://127.0.0.1:4222?stream=ORDERS:order.>");
//   auto t = ferry::connect("inproc://");
//   if (!t.is_ok()) return t.status();      // invalid_argument names the bad part of the URL
//
// A URL is `scheme://hosts?key=value&key=value`: hosts comma-separated as the broker's clients
// write them, values percent-decoded, a key may repeat. Each scheme's keys are in
// docs/transports.md; an unknown scheme or key, or a value that does not parse, is
// invalid_argument naming it; an unreachable broker is the transport's own error (unavailable).
//
// Schemes: `ferry::connect()` (in the `ferry::transports` library) knows every transport built
// here (inproc, nats, jetstream, kafka, redis, amqp). A transport written elsewhere adds its own scheme with
// register_transport() before the first connect.
//
// Thread safety: every function is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/result.h"
#include "ferry/status.h"
#include "ferry/transport.h"

namespace ferry {

struct transport_url {
  std::string scheme;  // lower case, e.g. "kafka"
  std::string hosts;   // as written, e.g. "a:9092,b:9092" (may be empty: "inproc://")
  std::vector<std::pair<std::string, std::string>> params;  // in order, decoded

  // The hosts split at commas (empty ones dropped).
  [[nodiscard]] std::vector<std::string> host_list() const;
  // The URL with every value of a secret-looking key (password, token, secret, sasl.password...)
  // and any user:password@ replaced by "***": safe for logs.
  [[nodiscard]] std::string redacted() const;
};

// Splits `url`; invalid_argument for a missing "://", an empty scheme, a key without '=' or an
// empty key, and a bad percent escape.
result<transport_url> parse_transport_url(std::string_view url);

// Percent-decodes `s` ('+' stays '+': it is common in broker option values); invalid_argument for a
// bad escape, naming `s` and `url`.
result<std::string> percent_decode(std::string_view s, std::string_view url);

// Reads the parameters of a transport_url, one key at a time, then reports what nobody took.
//
//   url_params p(u);
//   FERRY_ASSIGN_OR_RETURN(auto timeout, p.duration("connect_timeout"));   // optional<ms>
//   FERRY_RETURN_IF_ERROR(p.finish());                                     // unknown keys
class url_params {
 public:
  explicit url_params(const transport_url& u);

  // The last value of `key` (and marks every value of it taken); nullopt when absent.
  std::optional<std::string> text(std::string_view key);
  // Every value of `key`, in order.
  std::vector<std::string> all(std::string_view key);
  // Parsed values: invalid_argument naming the key and the value when it does not parse.
  result<std::optional<std::chrono::milliseconds>> duration(std::string_view key);
  result<std::optional<std::int64_t>> integer(std::string_view key, std::int64_t min, std::int64_t max);
  result<std::optional<bool>> boolean(std::string_view key);  // true/false/1/0/yes/no/on/off

  // The parameters nobody took, in order (for transports that pass them on to a client library).
  std::vector<std::pair<std::string, std::string>> take_rest();
  // invalid_argument naming every key nobody took ("unknown option \"x\" for kafka://..."); OK
  // when all were taken.
  [[nodiscard]] status finish() const;

 private:
  std::string scheme_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::vector<bool> taken_;
};

using transport_factory = std::function<result<std::unique_ptr<transport>>(const transport_url&)>;

// Adds `scheme` (lower case). already_exists when it is taken, invalid_argument for an empty one.
status register_transport(std::string scheme, transport_factory factory);
// The registered schemes, sorted.
std::vector<std::string> registered_schemes();
// Connects through the factory registered for the URL's scheme (only what was registered:
// connect() below registers the built-in ones first).
result<std::unique_ptr<transport>> connect_registered(std::string_view url);

// Registers the transports built in this repository (once), then connect_registered(url).
// Defined in the `ferry::transports` library, which links all of them.
result<std::unique_ptr<transport>> connect(std::string_view url);

}  // namespace ferry
