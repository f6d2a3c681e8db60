// Transport URLs, their parameters and the scheme registry (include/ferry/connect.h).
#include "ferry/connect.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>

#include "base/duration.h"

namespace ferry {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

result<std::string> percent_decode(std::string_view s, std::string_view url) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
    if (lo < 0) return invalid_argument("bad percent escape in \"" + std::string(s) + "\" of " + std::string(url));
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

namespace {

bool secret_key(std::string_view key) {
  for (std::string_view word : {"password", "pass", "token", "secret", "key"}) {
    if (key.find(word) != std::string_view::npos) return key != "key";
  }
  return false;
}

struct registry {
  std::mutex mu;
  std::map<std::string, transport_factory, std::less<>> factories;  // guarded by mu
};

registry& the_registry() {
  static registry r;
  return r;
}

}  // namespace

std::vector<std::string> transport_url::host_list() const {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= hosts.size()) {
    const std::size_t comma = std::min(hosts.find(',', start), hosts.size());
    if (comma > start) out.push_back(hosts.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string transport_url::redacted() const {
  std::string out = scheme + "://";
  for (const std::string& h : host_list()) {
    if (out.back() != '/') out += ',';
    const std::size_t at = h.rfind('@');
    out += at == std::string::npos ? h : "***@" + h.substr(at + 1);
  }
  char sep = '?';
  for (const auto& [k, v] : params) {
    out += sep + k + "=" + (secret_key(k) ? "***" : v);
    sep = '&';
  }
  return out;
}

result<transport_url> parse_transport_url(std::string_view url) {
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return invalid_argument("\"" + std::string(url) +
                            "\" is not a transport URL (expected scheme://hosts?options, e.g. " +
                            "nats://127.0.0.1:4222 or kafka://127.0.0.1:9092)");
  }
  transport_url u;
  for (char c : url.substr(0, sep)) u.scheme.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  std::string_view rest = url.substr(sep + 3);
  const std::size_t q = rest.find('?');
  u.hosts = std::string(rest.substr(0, q));
  if (u.hosts.find_first_of(" \t\r\n") != std::string::npos) {
    return invalid_argument("hosts \"" + u.hosts + "\" of " + std::string(url) + " contain whitespace");
  }
  if (q == std::string_view::npos) return u;
  std::string_view query = rest.substr(q + 1);
  while (!query.empty()) {
    const std::size_t amp = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(std::min(amp + 1, query.size()));
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return invalid_argument("option \"" + std::string(pair) + "\" of " + std::string(url) + " is not key=value");
    }
    FERRY_ASSIGN_OR_RETURN(std::string key, percent_decode(pair.substr(0, eq), url));
    FERRY_ASSIGN_OR_RETURN(std::string value, percent_decode(pair.substr(eq + 1), url));
    u.params.emplace_back(std::move(key), std::move(value));
  }
  return u;
}

url_params::url_params(const transport_url& u) : scheme_(u.scheme), params_(u.params), taken_(u.params.size(), false) {}

std::optional<std::string> url_params::text(std::string_view key) {
  std::optional<std::string> out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].first != key) continue;
    taken_[i] = true;
    out = params_[i].second;
  }
  return out;
}

std::vector<std::string> url_params::all(std::string_view key) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].first != key) continue;
    taken_[i] = true;
    out.push_back(params_[i].second);
  }
  return out;
}

result<std::optional<std::chrono::milliseconds>> url_params::duration(std::string_view key) {
  auto v = text(key);
  if (!v) return std::optional<std::chrono::milliseconds>();
  auto d = parse_duration(*v);
  if (!d.is_ok()) return d.status().with_context(scheme_ + " option " + std::string(key));
  return std::optional<std::chrono::milliseconds>(ceil_ms(*d));
}

result<std::optional<std::int64_t>> url_params::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  auto v = text(key);
  if (!v) return std::optional<std::int64_t>();
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    return invalid_argument(scheme_ + " option " + std::string(key) + "=\"" + *v + "\" is not an integer from " +
                            std::to_string(min) + " to " + std::to_string(max));
  }
  return std::optional<std::int64_t>(n);
}

result<std::optional<bool>> url_params::boolean(std::string_view key) {
  auto v = text(key);
  if (!v) return std::optional<bool>();
  for (std::string_view t : {"true", "1", "yes", "on"}) {
    if (*v == t) return std::optional<bool>(true);
  }
  for (std::string_view f : {"false", "0", "no", "off"}) {
    if (*v == f) return std::optional<bool>(false);
  }
  return invalid_argument(scheme_ + " option " + std::string(key) + "=\"" + *v + "\" is not true or false");
}

std::vector<std::pair<std::string, std::string>> url_params::take_rest() {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (taken_[i]) continue;
    taken_[i] = true;
    out.push_back(params_[i]);
  }
  return out;
}

status url_params::finish() const {
  std::string unknown;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (taken_[i]) continue;
    unknown += (unknown.empty() ? "\"" : ", \"") + params_[i].first + "\"";
  }
  if (unknown.empty()) return status::ok();
  return invalid_argument("unknown " + scheme_ + " option " + unknown + " (see docs/transports.md)");
}

status register_transport(std::string scheme, transport_factory factory) {
  if (scheme.empty() || !factory) return invalid_argument("register_transport: empty scheme or factory");
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  if (!r.factories.emplace(scheme, std::move(factory)).second) {
    return already_exists("transport scheme \"" + scheme + "\" is registered already");
  }
  return status::ok();
}

std::vector<std::string> registered_schemes() {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [scheme, f] : r.factories) out.push_back(scheme);
  return out;
}

result<std::unique_ptr<transport>> connect_registered(std::string_view url) {
  FERRY_ASSIGN_OR_RETURN(transport_url u, parse_transport_url(url));
  transport_factory f;
  {
    registry& r = the_registry();
    std::lock_guard lock(r.mu);
    if (auto it = r.factories.find(u.scheme); it != r.factories.end()) f = it->second;
  }
  if (!f) {
    std::string known;
    for (const std::string& s : registered_schemes()) known += (known.empty() ? "" : ", ") + s;
    return invalid_argument("unknown transport scheme \"" + u.scheme + "\" in " + u.redacted() +
                            " (known: " + (known.empty() ? "none registered" : known) + ")");
  }
  return f(u);
}

}  // namespace ferry
