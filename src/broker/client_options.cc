#include "broker/client_options.h"

#include <nlohmann/json.hpp>

namespace ferry::broker {

namespace {

using json = nlohmann::json;

bool get_bool(const json& j, const char* key, bool& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  out = it->get<bool>();
  return true;
}

bool get_string(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool get_int(const json& j, const char* key, int& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  // Go accepts a JSON number with no fraction for an int field.
  if (it->is_number_integer()) {
    auto v = it->get<long long>();
    if (v < INT32_MIN || v > INT32_MAX) return false;
    out = static_cast<int>(v);
    return true;
  }
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (d != static_cast<double>(static_cast<long long>(d))) return false;
    out = static_cast<int>(d);
    return true;
  }
  return false;
}

}  // namespace

std::optional<client_options> parse_client_options(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  client_options o;
  bool ok = get_bool(j, "echo", o.echo) && get_bool(j, "verbose", o.verbose) &&
            get_bool(j, "pedantic", o.pedantic) && get_bool(j, "tls_required", o.tls_required) &&
            get_bool(j, "headers", o.headers) && get_bool(j, "no_responders", o.no_responders) &&
            get_string(j, "nkey", o.nkey) && get_string(j, "jwt", o.jwt) && get_string(j, "sig", o.sig) &&
            get_string(j, "auth_token", o.auth_token) && get_string(j, "user", o.user) &&
            get_string(j, "pass", o.pass) && get_string(j, "name", o.name) && get_string(j, "lang", o.lang) &&
            get_string(j, "version", o.version) && get_string(j, "account", o.account) &&
            get_bool(j, "new_account", o.new_account) && get_int(j, "protocol", o.protocol);
  if (!ok) return std::nullopt;
  return o;
}

}  // namespace ferry::broker
