// url: the nats:// and jetstream:// transport URLs share their connection options.
#pragma once

#include <string>

#include "ferry/connect.h"
#include "ferry/nats.h"

namespace ferry::nats::detail {

// Reads the connection keys of a NATS URL (name, connect_timeout, max_reconnect, reconnect_wait,
// reconnect_buffer_bytes, retry_on_failed_connect, user, password, token, pending_limit,
// poll_interval) into `o`.
status read_connection_params(url_params& p, options& o);

// The hosts of `u` as nats.c wants them: "nats://a:4222,nats://b:4222" (default 127.0.0.1:4222).
std::string server_list(const transport_url& u);

}  // namespace ferry::nats::detail
