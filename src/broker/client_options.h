// client_options: the fields of a client's CONNECT, parsed as nats-server's json.Unmarshal
// into ClientOpts does: unknown keys are ignored, a key with the wrong JSON type fails the
// whole CONNECT, null leaves the default, and verbose, pedantic and echo default to true.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::broker {

struct client_options {
  bool echo = true;
  bool verbose = true;
  bool pedantic = true;
  bool tls_required = false;
  bool headers = false;
  bool no_responders = false;
  std::string nkey, jwt, sig;
  std::string auth_token;
  std::string user, pass;
  std::string name, lang, version;
  std::string account;
  bool new_account = false;
  int protocol = 0;
};

// Parses CONNECT's JSON. nullopt when it is not a JSON object or a field has the wrong type;
// nats-server then closes the connection without an -ERR.
std::optional<client_options> parse_client_options(std::string_view json);

}  // namespace ferry::broker
