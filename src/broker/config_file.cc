// Maps the tree from config_parser onto server_options, key by key, with nats-server's names
// and aliases (opts.go in nats-server 2.9). Keys compare without case, as there. A key that
// ferryd does not know is an error unless a `$variable` read it (then it is a variable).
#include "broker/config_file.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "base/duration.h"
#include "broker/config_parser.h"
#include "protocol/subject.h"

namespace ferry::broker {

namespace {

using std::chrono::milliseconds;

// --- error messages: every one goes through config_error (file:line: ...) ---

std::string describe(const config_value& v) {
  switch (v.kind) {
    case config_kind::string:
      return "string \"" + v.text + "\"";
    case config_kind::integer:
      return "integer " + v.text;
    case config_kind::floating:
      return "float " + v.text;
    case config_kind::boolean:
      return v.boolean ? "boolean true" : "boolean false";
    case config_kind::datetime:
      return "date " + v.text;
    case config_kind::array:
      return "an array";
    case config_kind::map:
      return "a map";
  }
  return "a value";
}

// `field "port": <why>`, at the value's line (an array element's own line).
status bad_value(std::string_view key, const config_value& v, std::string_view why) {
  return config_error(v.at, "field \"" + std::string(key) + "\": " + std::string(why));
}
status bad_value(const config_entry& e, std::string_view why) { return bad_value(e.key, e.value, why); }

status wrong_type(std::string_view key, const config_value& v, std::string_view expected) {
  return bad_value(key, v, "expected " + std::string(expected) + ", got " + describe(v));
}
status wrong_type(const config_entry& e, std::string_view expected) { return wrong_type(e.key, e.value, expected); }

// Keys read as `$variables` are definitions, not settings, so they are no error.
status unknown_field(const config_entry& e) {
  if (e.used_as_variable) return status::ok();
  return config_error(e.at, "unknown field \"" + e.key + "\"");
}

// --- typed readers ---

result<std::string> get_string(const config_entry& e) {
  if (e.value.kind != config_kind::string) return wrong_type(e, "a string");
  return e.value.text;
}

result<bool> get_bool(const config_entry& e) {
  if (e.value.kind != config_kind::boolean) return wrong_type(e, "a boolean (true/false, yes/no, on/off)");
  return e.value.boolean;
}

// Sizes are integers; a suffix is read by the parser (1KB is 1024, 1K is 1000). As in
// nats-server a quoted size is a string, and refused.
result<std::int64_t> get_size(const config_entry& e) {
  if (e.value.kind != config_kind::integer)
    return wrong_type(e, "an integer (sizes such as 1MB are written without quotes)");
  return e.value.integer;
}

result<int> get_int(const config_entry& e) {
  if (e.value.kind != config_kind::integer) return wrong_type(e, "an integer");
  if (e.value.integer < std::numeric_limits<int>::min() || e.value.integer > std::numeric_limits<int>::max()) {
    return bad_value(e, e.value.text + " is out of range");
  }
  return static_cast<int>(e.value.integer);
}

result<milliseconds> seconds_to_ms(const config_entry& e, long double seconds) {
  const long double ms = std::round(seconds * 1000);
  if (std::abs(ms) >= static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
    return bad_value(e, e.value.text + " seconds is out of range");
  }
  return milliseconds(static_cast<std::int64_t>(ms));
}

result<milliseconds> duration_from_string(const config_entry& e) {
  auto ns = parse_go_duration(e.value.text);
  if (!ns.is_ok())
    return bad_value(e, "\"" + e.value.text + "\" is not a duration (write e.g. \"2s\", \"1m30s\", \"500ms\")");
  return std::chrono::duration_cast<milliseconds>(*ns);
}

// ping_interval, write_deadline: a duration string, or (older style) whole seconds. Note that
// an unquoted 1m is the integer 1000000 (a size suffix), hence a million seconds, as in
// nats-server.
// A bare number is accepted with a warning, as nats-server gives one.
result<milliseconds> get_duration(const config_entry& e, server_options& o) {
  if (e.value.kind == config_kind::string) return duration_from_string(e);
  if (e.value.kind != config_kind::integer) return wrong_type(e, "a duration such as \"2s\" or a number of seconds");
  std::string warning = e.value.at.file + ":" + std::to_string(e.value.at.line) + ": " + e.key +
                        " should be converted to a duration (\"2s\", \"1m30s\"): " + std::to_string(e.value.integer) +
                        " is read as seconds";
  if (e.value.text.find_first_not_of("0123456789") != std::string::npos) {
    warning += " (an unquoted " + e.value.text + " is the size " + std::to_string(e.value.integer) +
               "; for a duration quote it: \"" + e.value.text + "\")";
  }
  o.config_warnings.push_back(std::move(warning));
  return seconds_to_ms(e, static_cast<long double>(e.value.integer));
}

// Auth and TLS timeouts: seconds, possibly fractional. nats-server 2.9 also takes a duration
// string for the TLS timeout (and silently uses 1 s for one in authorization); ferryd takes it
// in both.
result<milliseconds> get_seconds(const config_entry& e) {
  if (e.value.kind == config_kind::integer) return seconds_to_ms(e, static_cast<long double>(e.value.integer));
  if (e.value.kind == config_kind::floating) return seconds_to_ms(e, e.value.floating);
  if (e.value.kind == config_kind::string) return duration_from_string(e);
  return wrong_type(e, "a number of seconds or a duration such as \"2s\"");
}

struct host_port {
  std::optional<std::string> host;  // absent when only a port was given
  int port = 0;
};

// listen and http: a port, or "host:port" ("[::1]:4222" for IPv6), like Go's SplitHostPort.
// An empty host (":4222") means every interface, as in Go.
result<host_port> get_host_port(const config_entry& e) {
  host_port hp;
  if (e.value.kind == config_kind::integer) {
    FERRY_ASSIGN_OR_RETURN(hp.port, get_int(e));
    return hp;
  }
  if (e.value.kind != config_kind::string) return wrong_type(e, "a port or \"host:port\"");
  const std::string& s = e.value.text;
  const std::size_t colon = s.rfind(':');
  std::string host;
  if (colon == std::string::npos) return bad_value(e, "\"" + s + "\" is not host:port (the port is missing)");
  if (!s.empty() && s[0] == '[') {
    if (colon == 0 || s[colon - 1] != ']') return bad_value(e, "\"" + s + "\" is not host:port");
    host = s.substr(1, colon - 2);
  } else {
    host = s.substr(0, colon);
    if (host.find(':') != std::string::npos)
      return bad_value(e, "\"" + s + "\": write an IPv6 host in brackets, [::1]:4222");
  }
  const std::string port = s.substr(colon + 1);
  int n = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size()) {
    return bad_value(e, "\"" + port + "\" is not a port number");
  }
  hp.host = host.empty() ? "0.0.0.0" : host;
  hp.port = n;
  return hp;
}

// --- blocks ---

// A subject, or for subscribe "subject queue": both parts must be valid subjects.
status check_subject(std::string_view key, const config_value& v) {
  const std::string& s = v.text;
  const std::size_t sp = s.find_first_of(" \t");
  const std::string subject = s.substr(0, sp);
  std::string queue;
  if (const std::size_t q = s.find_first_not_of(" \t", sp); sp != std::string::npos && q != std::string::npos) {
    queue = s.substr(q);
  }
  if (!protocol::is_valid_subject(subject) || (!queue.empty() && !protocol::is_valid_subject(queue))) {
    return bad_value(key, v, "\"" + s + "\" is not a valid subject");
  }
  return status::ok();
}

// A subject or an array of subjects, appended to `out`.
status get_subjects(const config_entry& e, std::vector<std::string>& out) {
  std::vector<const config_value*> values;
  if (e.value.kind == config_kind::array) {
    for (const config_value& v : e.value.items) values.push_back(&v);
  } else {
    values.push_back(&e.value);
  }
  for (const config_value* v : values) {
    if (v->kind != config_kind::string) return wrong_type(e.key, *v, "a subject or an array of subjects");
    FERRY_RETURN_IF_ERROR(check_subject(e.key, *v));
    out.push_back(v->text);
  }
  return status::ok();
}

// publish / subscribe: a subject, an array of subjects (both: allow lists), or
// { allow: ..., deny: ... }.
status get_subject_permission(const config_entry& e, subject_permission& out) {
  out = {};
  if (e.value.kind != config_kind::map) return get_subjects(e, out.allow);
  for (const config_entry& f : e.value.entries) {
    const std::string k = ascii_lower(f.key);
    if (k == "allow") {
      FERRY_RETURN_IF_ERROR(get_subjects(f, out.allow));
    } else if (k == "deny") {
      FERRY_RETURN_IF_ERROR(get_subjects(f, out.deny));
    } else {
      FERRY_RETURN_IF_ERROR(unknown_field(f));
    }
  }
  return status::ok();
}

result<permissions> get_permissions(const config_entry& e) {
  if (e.value.kind != config_kind::map) return wrong_type(e, "a map with publish and subscribe");
  permissions p;
  for (const config_entry& f : e.value.entries) {
    const std::string k = ascii_lower(f.key);
    if (k == "publish" || k == "pub" || k == "import") {
      FERRY_RETURN_IF_ERROR(get_subject_permission(f, p.publish));
    } else if (k == "subscribe" || k == "sub" || k == "export") {
      FERRY_RETURN_IF_ERROR(get_subject_permission(f, p.subscribe));
    } else {
      FERRY_RETURN_IF_ERROR(unknown_field(f));
    }
  }
  return p;
}

status get_users(const config_entry& e, std::vector<user>& out) {
  if (e.value.kind != config_kind::array) return wrong_type(e, "an array of users");
  for (const config_value& v : e.value.items) {
    if (v.kind != config_kind::map) return wrong_type(e.key, v, "a map with user and password");
    user u;
    bool named = false;
    for (const config_entry& f : v.entries) {
      const std::string k = ascii_lower(f.key);
      if (k == "user" || k == "username") {
        FERRY_ASSIGN_OR_RETURN(u.name, get_string(f));
        named = true;
      } else if (k == "pass" || k == "password") {
        FERRY_ASSIGN_OR_RETURN(u.password, get_string(f));
      } else if (k == "permissions" || k == "permission") {
        FERRY_ASSIGN_OR_RETURN(u.perms, get_permissions(f));
      } else {
        FERRY_RETURN_IF_ERROR(unknown_field(f));
      }
    }
    if (!named) return bad_value(e.key, v, "a user entry needs a user");
    for (const user& other : out) {
      if (other.name == u.name) return bad_value(e.key, v, "duplicate user \"" + u.name + "\"");
    }
    out.push_back(std::move(u));
  }
  return status::ok();
}

// The block replaces any earlier authorization settings.
status apply_authorization(const config_entry& e, server_options& o) {
  if (e.value.kind != config_kind::map) return wrong_type(e, "a map");
  auth_options a;
  user single;
  bool has_users = false;
  std::optional<permissions> defaults;
  for (const config_entry& f : e.value.entries) {
    const std::string k = ascii_lower(f.key);
    if (k == "user" || k == "username") {
      FERRY_ASSIGN_OR_RETURN(single.name, get_string(f));
    } else if (k == "pass" || k == "password") {
      FERRY_ASSIGN_OR_RETURN(single.password, get_string(f));
    } else if (k == "token") {
      FERRY_ASSIGN_OR_RETURN(a.token, get_string(f));
    } else if (k == "timeout") {
      FERRY_ASSIGN_OR_RETURN(a.timeout, get_seconds(f));
    } else if (k == "users") {
      FERRY_RETURN_IF_ERROR(get_users(f, a.users));
      has_users = true;
    } else if (k == "permissions" || k == "default_permissions" || k == "default_permission") {
      FERRY_ASSIGN_OR_RETURN(defaults, get_permissions(f));
    } else {
      FERRY_RETURN_IF_ERROR(unknown_field(f));
    }
  }
  const bool has_single = !single.name.empty() || !single.password.empty();
  // The same three conflicts nats-server reports.
  if (has_single && !a.token.empty()) return bad_value(e, "can not have both a user/password and a token");
  if (has_users && has_single) return bad_value(e, "can not have both a single user/password and a users array");
  if (has_users && !a.token.empty()) return bad_value(e, "can not have both a token and a users array");
  // Default permissions apply to the users of the array that have none of their own.
  if (defaults) {
    for (user& u : a.users) {
      if (!u.perms) u.perms = defaults;
    }
  }
  if (has_single) a.users.push_back(std::move(single));
  o.auth = std::move(a);
  return status::ok();
}

// The block enables TLS and replaces any earlier TLS settings.
status apply_tls(const config_entry& e, server_options& o) {
  if (e.value.kind != config_kind::map) return wrong_type(e, "a map");
  tls_options t;
  t.enabled = true;
  for (const config_entry& f : e.value.entries) {
    const std::string k = ascii_lower(f.key);
    if (k == "cert_file") {
      FERRY_ASSIGN_OR_RETURN(t.cert_file, get_string(f));
    } else if (k == "key_file") {
      FERRY_ASSIGN_OR_RETURN(t.key_file, get_string(f));
    } else if (k == "ca_file") {
      FERRY_ASSIGN_OR_RETURN(t.ca_file, get_string(f));
    } else if (k == "verify") {
      FERRY_ASSIGN_OR_RETURN(t.verify, get_bool(f));
    } else if (k == "timeout") {
      FERRY_ASSIGN_OR_RETURN(milliseconds timeout, get_seconds(f));
      if (timeout.count() > 0) t.timeout = timeout;  // 0: the default, as in nats-server
    } else {
      FERRY_RETURN_IF_ERROR(unknown_field(f));
    }
  }
  o.tls = std::move(t);
  return status::ok();
}

// State that spans keys while one file is applied.
struct apply_state {
  bool store_dir_set = false;  // nats-server refuses store_dir both on top and in jetstream
  bool debug = false;
  bool trace = false;
};

status set_store_dir(const config_entry& e, server_options& o, apply_state& st) {
  if (st.store_dir_set) return bad_value(e, "store_dir is set both at the top level and in jetstream");
  FERRY_ASSIGN_OR_RETURN(o.store_dir, get_string(e));
  st.store_dir_set = true;
  return status::ok();
}

// max_memory_store, max_file_store: an integer (1G is 10^9, 1GB is 2^30), or a quoted number
// with one binary suffix K, M, G or T ("64M" is 64 MiB; "64MB" is refused), as nats-server.
status check_storage_size(const config_entry& e) {
  if (e.value.kind == config_kind::integer) return status::ok();
  if (e.value.kind != config_kind::string) return wrong_type(e, "a size such as 1GB or \"1G\"");
  const std::string& s = e.value.text;
  const bool ok = s.size() >= 2 && std::string_view("KMGT").find(s.back()) != std::string_view::npos &&
                  s.find_first_not_of("0123456789") == s.size() - 1;
  if (!ok) return bad_value(e, "\"" + s + "\" is not a size (quoted sizes end in K, M, G or T, e.g. \"64M\")");
  return status::ok();
}

// `jetstream: true`, `jetstream: enabled` / `disabled`, or a block (which enables it unless
// it says `enabled: false`).
status apply_jetstream(const config_entry& e, server_options& o, apply_state& st) {
  if (e.value.kind == config_kind::boolean) {
    o.jetstream = e.value.boolean;
    return status::ok();
  }
  if (e.value.kind == config_kind::string) {
    const std::string v = ascii_lower(e.value.text);
    if (v == "enabled" || v == "enable") {
      o.jetstream = true;
    } else if (v == "disabled" || v == "disable") {
      o.jetstream = false;
    } else {
      return bad_value(e, "expected \"enabled\" or \"disabled\", got \"" + e.value.text + "\"");
    }
    return status::ok();
  }
  if (e.value.kind != config_kind::map) return wrong_type(e, "a boolean, \"enabled\", \"disabled\" or a map");
  bool enable = true;
  for (const config_entry& f : e.value.entries) {
    const std::string k = ascii_lower(f.key);
    if (k == "store_dir" || k == "store" || k == "storedir") {
      FERRY_RETURN_IF_ERROR(set_store_dir(f, o, st));
    } else if (k == "max_memory_store" || k == "max_mem_store" || k == "max_mem" || k == "max_file_store" ||
               k == "max_file") {
      // Checked so that a file nats-server refuses is refused here too, then ignored:
      // ferryd's JetStream does not limit its storage yet, so there is no option to set.
      FERRY_RETURN_IF_ERROR(check_storage_size(f));
    } else if (k == "enabled" || k == "enable") {
      FERRY_ASSIGN_OR_RETURN(enable, get_bool(f));
    } else if (k == "sync_interval" || k == "sync") {
      // "always": fsync before every acknowledgement (with group commit); or a duration.
      if (f.value.kind == config_kind::string && ascii_lower(f.value.text) == "always") {
        o.sync_always = true;
      } else {
        FERRY_ASSIGN_OR_RETURN(o.sync_interval, get_duration(f, o));
        o.sync_always = false;
      }
    } else {
      FERRY_RETURN_IF_ERROR(unknown_field(f));
    }
  }
  o.jetstream = enable;
  return status::ok();
}

status apply_top_level(const config_entry& e, server_options& o, apply_state& st) {
  const std::string k = ascii_lower(e.key);
  if (k == "listen") {
    FERRY_ASSIGN_OR_RETURN(host_port hp, get_host_port(e));
    // A bare port keeps ferryd's host (nats-server would bind every interface).
    if (hp.host) o.host = *hp.host;
    o.port = hp.port;
  } else if (k == "host" || k == "net") {
    FERRY_ASSIGN_OR_RETURN(o.host, get_string(e));
  } else if (k == "port") {
    FERRY_ASSIGN_OR_RETURN(o.port, get_int(e));
  } else if (k == "server_name") {
    FERRY_ASSIGN_OR_RETURN(o.server_name, get_string(e));
    if (o.server_name.find(' ') != std::string::npos) return bad_value(e, "a server name can not contain spaces");
  } else if (k == "http") {
    FERRY_ASSIGN_OR_RETURN(host_port hp, get_host_port(e));
    if (hp.host) o.http_host = *hp.host;
    o.http_port = hp.port;
  } else if (k == "http_port" || k == "monitor_port") {
    FERRY_ASSIGN_OR_RETURN(o.http_port, get_int(e));
  } else if (k == "max_payload") {
    FERRY_ASSIGN_OR_RETURN(o.max_payload, get_size(e));
  } else if (k == "max_control_line") {
    FERRY_ASSIGN_OR_RETURN(o.max_control_line, get_size(e));
    if (o.max_control_line > std::numeric_limits<std::int32_t>::max()) return bad_value(e, "the value is too big");
  } else if (k == "max_pending") {
    FERRY_ASSIGN_OR_RETURN(o.max_pending, get_size(e));
  } else if (k == "max_connections" || k == "max_conn") {
    FERRY_ASSIGN_OR_RETURN(o.max_connections, get_int(e));
  } else if (k == "max_subscriptions" || k == "max_subs") {
    FERRY_ASSIGN_OR_RETURN(o.max_subscriptions, get_int(e));
  } else if (k == "ping_interval") {
    FERRY_ASSIGN_OR_RETURN(o.ping_interval, get_duration(e, o));
  } else if (k == "ping_max") {
    FERRY_ASSIGN_OR_RETURN(o.ping_max, get_int(e));
  } else if (k == "write_deadline") {
    FERRY_ASSIGN_OR_RETURN(o.write_deadline, get_duration(e, o));
  } else if (k == "authorization") {
    FERRY_RETURN_IF_ERROR(apply_authorization(e, o));
  } else if (k == "tls") {
    FERRY_RETURN_IF_ERROR(apply_tls(e, o));
  } else if (k == "jetstream") {
    FERRY_RETURN_IF_ERROR(apply_jetstream(e, o, st));
  } else if (k == "store_dir" || k == "storedir") {
    FERRY_RETURN_IF_ERROR(set_store_dir(e, o, st));
  } else if (k == "debug") {
    FERRY_ASSIGN_OR_RETURN(st.debug, get_bool(e));
  } else if (k == "trace") {
    FERRY_ASSIGN_OR_RETURN(st.trace, get_bool(e));
  } else if (k == "logtime") {
    FERRY_ASSIGN_OR_RETURN(o.log.timestamps, get_bool(e));
  } else if (k == "logfile" || k == "log_file") {
    FERRY_ASSIGN_OR_RETURN(o.log.file, get_string(e));
  } else if (k == "pid_file" || k == "pidfile") {
    FERRY_ASSIGN_OR_RETURN(o.pid_file, get_string(e));
  } else if (k == "ports_file_dir") {
    FERRY_ASSIGN_OR_RETURN(o.ports_file_dir, get_string(e));
  } else {
    return unknown_field(e);
  }
  return status::ok();
}

// Applies onto a copy, so that `out` changes only if the whole file is good.
status apply_tree(const config_value& top, server_options& out) {
  server_options o = out;
  apply_state st;
  for (const config_entry& e : top.entries) FERRY_RETURN_IF_ERROR(apply_top_level(e, o, st));
  // One log level stands for nats-server's two switches; like the -D and -V flags, they only
  // ever make logging more verbose, so `debug: false` leaves the level alone.
  if (st.trace) {
    o.log.level = log_level::trace;
  } else if (st.debug && o.log.level > log_level::debug) {
    o.log.level = log_level::debug;
  }
  out = std::move(o);
  return status::ok();
}

}  // namespace

status load_config_file(const std::string& path, server_options& o) {
  FERRY_ASSIGN_OR_RETURN(config_value top, parse_config_file(path));
  return apply_tree(top, o);
}

status apply_config_text(std::string_view text, const std::string& origin, const std::string& base_dir,
                         server_options& o) {
  FERRY_ASSIGN_OR_RETURN(config_value top, parse_config(text, origin, base_dir));
  return apply_tree(top, o);
}

}  // namespace ferry::broker
