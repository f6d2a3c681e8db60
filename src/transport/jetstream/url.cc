// jetstream:// URLs (include/ferry/jetstream.h, connect_url).
#include "transport/nats/url.h"

#include "ferry/jetstream.h"

namespace ferry::jetstream {
namespace {

// "ORDERS:order.>,payment.>" -> a stream named ORDERS on those subjects ("ORDERS" alone: no subjects
// given, so a created stream takes its name as its subject and a bound one keeps its own).
result<stream_config> parse_stream(const std::string& v) {
  stream_config s;
  const std::size_t colon = v.find(':');
  s.name = v.substr(0, colon);
  if (s.name.empty())
    return invalid_argument("jetstream option stream=\"" + v + "\" has no stream name (use NAME:subject,...)");
  if (colon == std::string::npos) return s;
  std::size_t start = colon + 1;
  while (start <= v.size()) {
    const std::size_t comma = std::min(v.find(',', start), v.size());
    if (comma == start) return invalid_argument("jetstream option stream=\"" + v + "\" has an empty subject");
    s.subjects.push_back(v.substr(start, comma - start));
    start = comma + 1;
  }
  return s;
}

}  // namespace

result<std::unique_ptr<transport>> connect_url(const transport_url& url) {
  url_params p(url);
  options o;
  FERRY_RETURN_IF_ERROR(nats::detail::read_connection_params(p, o.connection));
  for (const std::string& v : p.all("stream")) {
    FERRY_ASSIGN_OR_RETURN(stream_config s, parse_stream(v));
    o.streams.push_back(std::move(s));
  }
  FERRY_ASSIGN_OR_RETURN(auto replicas, p.integer("replicas", 1, 5));
  FERRY_ASSIGN_OR_RETURN(auto max_age, p.duration("max_age"));
  FERRY_ASSIGN_OR_RETURN(auto window, p.duration("duplicate_window"));
  std::optional<storage> store;
  if (auto v = p.text("storage")) {
    if (*v != "file" && *v != "memory")
      return invalid_argument("jetstream option storage=\"" + *v + "\" is not file or memory");
    store = *v == "file" ? storage::file : storage::memory;
  }
  for (stream_config& s : o.streams) {
    if (replicas) s.replicas = static_cast<int>(*replicas);
    if (max_age) s.max_age = *max_age;
    if (window) s.duplicate_window = *window;
    if (store) s.store = *store;
  }
  FERRY_ASSIGN_OR_RETURN(auto create, p.boolean("create_streams"));
  if (create) o.create_streams = *create;
  FERRY_ASSIGN_OR_RETURN(auto publish_timeout, p.duration("publish_timeout"));
  if (publish_timeout) o.publish_timeout = *publish_timeout;
  FERRY_ASSIGN_OR_RETURN(auto setup_timeout, p.duration("setup_timeout"));
  if (setup_timeout) o.setup_timeout = *setup_timeout;
  FERRY_ASSIGN_OR_RETURN(auto inactive, p.duration("inactive_threshold"));
  if (inactive) o.inactive_threshold = *inactive;
  FERRY_ASSIGN_OR_RETURN(auto batch, p.integer("fetch_batch", 1, 1'000'000));
  if (batch) o.fetch_batch = static_cast<std::size_t>(*batch);
  FERRY_RETURN_IF_ERROR(p.finish());
  return connect(nats::detail::server_list(url), std::move(o));
}

}  // namespace ferry::jetstream
