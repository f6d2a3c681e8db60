// Every `-ERR` text a client can see, in one table, with whether the server closes afterwards.
//
// The texts are nats-server's exactly (client.go, errors.go); clients parse some of them
// (nats.js matches "permissions violation", "authorization violation", ...), so they must not
// drift. Permission violations quote the subject as Go's %q does (go_quote).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::protocol {

enum class client_error : std::uint8_t {
  unknown_protocol_operation,
  authorization_violation,
  authentication_timeout,
  maximum_payload_violation,
  maximum_control_line_exceeded,
  invalid_client_protocol,
  no_responders_requires_headers,
  maximum_connections_exceeded,
  stale_connection,
  secure_connection_tls_required,
  invalid_subject,
  invalid_publish_subject,
  maximum_subscriptions_exceeded,
};

struct client_error_info {
  std::string_view text;  // inside -ERR '...'
  bool closes;            // the server closes the connection after sending it
};

const client_error_info& describe(client_error e);

// "-ERR '<text>'\r\n"
std::string err_frame(std::string_view text);
inline std::string err_frame(client_error e) { return err_frame(describe(e).text); }

// Permission violations (the connection stays open).
std::string publish_violation(std::string_view subject);
std::string reply_violation(std::string_view reply);
std::string subscribe_violation(std::string_view subject, std::string_view queue);

// Go's strconv.Quote: double quotes, with \" \\ and control bytes escaped.
std::string go_quote(std::string_view s);

}  // namespace ferry::protocol
