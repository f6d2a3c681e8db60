#include "transport/nats/url.h"

namespace ferry::nats::detail {

status read_connection_params(url_params& p, options& o) {
  if (auto v = p.text("name")) o.name = *v;
  if (auto v = p.text("user")) o.user = *v;
  if (auto v = p.text("password")) o.password = *v;
  if (auto v = p.text("token")) o.token = *v;
  const std::pair<const char*, std::chrono::milliseconds*> durations[] = {
      {"connect_timeout", &o.connect_timeout},
      {"reconnect_wait", &o.reconnect_wait},
      {"poll_interval", &o.poll_interval},
  };
  for (const auto& [key, field] : durations) {
    FERRY_ASSIGN_OR_RETURN(auto d, p.duration(key));
    if (d) *field = *d;
  }
  FERRY_ASSIGN_OR_RETURN(auto reconnects, p.integer("max_reconnect", -1, 1'000'000'000));
  if (reconnects) o.max_reconnect = static_cast<int>(*reconnects);
  FERRY_ASSIGN_OR_RETURN(auto buffer, p.integer("reconnect_buffer_bytes", 0, 1LL << 31));
  if (buffer) o.reconnect_buffer_bytes = static_cast<int>(*buffer);
  FERRY_ASSIGN_OR_RETURN(auto pending, p.integer("pending_limit", 1, 1LL << 30));
  if (pending) o.pending_limit = static_cast<int>(*pending);
  FERRY_ASSIGN_OR_RETURN(auto retry, p.boolean("retry_on_failed_connect"));
  if (retry) o.retry_on_failed_connect = *retry;
  return status::ok();
}

std::string server_list(const transport_url& u) {
  std::string out;
  for (const std::string& h : u.host_list()) out += (out.empty() ? "nats://" : ",nats://") + h;
  return out.empty() ? "nats://127.0.0.1:4222" : out;
}

}  // namespace ferry::nats::detail
