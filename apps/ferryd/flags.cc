#include "flags.h"

#include <charconv>
#include <functional>
#include <map>

#include "broker/config_file.h"

namespace ferry::ferryd {

namespace {

using broker::server_options;

struct flag {
  bool takes_value;
  std::function<status(server_options&, const std::string&)> apply;
};

result<int> to_int(const std::string& name, const std::string& v) {
  int n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size())
    return invalid_argument("invalid value \"" + v + "\" for flag -" + name + ": not an integer");
  return n;
}

result<bool> to_bool(const std::string& name, const std::string& v) {
  if (v.empty() || v == "true" || v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "True") return true;
  if (v == "false" || v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "False") return false;
  return invalid_argument("invalid boolean value \"" + v + "\" for flag -" + name);
}

std::map<std::string, flag, std::less<>> make_flags() {
  std::map<std::string, flag, std::less<>> f;
  auto str = [](std::string server_options::*field) {
    return flag{true, [field](server_options& o, const std::string& v) {
                  o.*field = v;
                  return status::ok();
                }};
  };
  auto integer = [](const char* name, int server_options::*field) {
    return flag{true, [name, field](server_options& o, const std::string& v) -> status {
                  auto n = to_int(name, v);
                  if (!n.is_ok()) return n.status();
                  o.*field = *n;
                  return status::ok();
                }};
  };
  f["a"] = f["addr"] = f["net"] = str(&server_options::host);
  f["p"] = f["port"] = integer("port", &server_options::port);
  f["n"] = f["name"] = f["server_name"] = str(&server_options::server_name);
  f["m"] = f["http_port"] = integer("http_port", &server_options::http_port);
  f["workers"] = integer("workers", &server_options::workers);
  f["user"] = {true, [](server_options& o, const std::string& v) {
                 if (o.auth.users.empty()) o.auth.users.push_back({});
                 o.auth.users[0].name = v;
                 return status::ok();
               }};
  f["pass"] = {true, [](server_options& o, const std::string& v) {
                 if (o.auth.users.empty()) o.auth.users.push_back({});
                 o.auth.users[0].password = v;
                 return status::ok();
               }};
  f["auth"] = {true, [](server_options& o, const std::string& v) {
                 o.auth.token = v;
                 return status::ok();
               }};
  auto boolean = [](const char* name, std::function<void(server_options&, bool)> set) {
    return flag{false, [name, set](server_options& o, const std::string& v) -> status {
                  auto b = to_bool(name, v);
                  if (!b.is_ok()) return b.status();
                  set(o, *b);
                  return status::ok();
                }};
  };
  f["js"] = f["jetstream"] = boolean("jetstream", [](server_options& o, bool b) { o.jetstream = b; });
  f["sd"] = f["store_dir"] = str(&server_options::store_dir);
  f["D"] = f["debug"] = boolean("debug", [](server_options& o, bool b) {
    if (b && o.log.level > log_level::debug) o.log.level = log_level::debug;
  });
  f["V"] = f["trace"] = boolean("trace", [](server_options& o, bool b) {
    if (b) o.log.level = log_level::trace;
  });
  f["DV"] = boolean("DV", [](server_options& o, bool b) {
    if (b) o.log.level = log_level::trace;
  });
  f["l"] = f["log"] = {true, [](server_options& o, const std::string& v) {
                         o.log.file = v;
                         return status::ok();
                       }};
  f["P"] = f["pid"] = str(&server_options::pid_file);
  f["ports_file_dir"] = str(&server_options::ports_file_dir);
  f["tls"] = boolean("tls", [](server_options& o, bool b) { o.tls.enabled = b; });
  f["tlscert"] = {true, [](server_options& o, const std::string& v) {
                    o.tls.cert_file = v;
                    o.tls.enabled = true;
                    return status::ok();
                  }};
  f["tlskey"] = {true, [](server_options& o, const std::string& v) {
                   o.tls.key_file = v;
                   o.tls.enabled = true;
                   return status::ok();
                 }};
  f["tlscacert"] = {true, [](server_options& o, const std::string& v) {
                      o.tls.ca_file = v;
                      return status::ok();
                    }};
  f["tlsverify"] = boolean("tlsverify", [](server_options& o, bool b) {
    o.tls.verify = b;
    if (b) o.tls.enabled = true;
  });
  return f;
}

}  // namespace

result<arguments> parse_arguments(const std::vector<std::string>& args) {
  static const auto flags = make_flags();
  arguments out;
  // First pass: split into (name, value) pairs and find -c, -h and -v.
  std::vector<std::pair<std::string, std::string>> given;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      return invalid_argument("unexpected argument \"" + a + "\" (flags start with -; see ferryd --help)");
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "h" || name == "help") {
      out.help = true;
      continue;
    }
    if (name == "v" || name == "version") {
      out.version = true;
      continue;
    }
    if (name == "t") {
      out.test_config = true;
      continue;
    }
    if (name == "c" || name == "config") {
      if (!has_value) {
        if (i + 1 >= args.size()) return invalid_argument("flag needs an argument: -" + name);
        value = args[++i];
      }
      out.config_file = value;
      continue;
    }
    auto it = flags.find(name);
    if (it == flags.end()) return invalid_argument("unknown flag: " + a + " (see ferryd --help)");
    if (it->second.takes_value && !has_value) {
      if (i + 1 >= args.size()) return invalid_argument("flag needs an argument: -" + name);
      value = args[++i];
    }
    given.emplace_back(name, value);
  }
  if (out.help || out.version) return out;
  if (!out.config_file.empty()) {
    FERRY_RETURN_IF_ERROR(broker::load_config_file(out.config_file, out.options));
  }
  for (const auto& [name, value] : given) {
    FERRY_RETURN_IF_ERROR(flags.find(name)->second.apply(out.options, value));
  }
  return out;
}

std::string usage() {
  return R"(Usage: ferryd [options]

ferryd is a message broker that speaks the NATS client protocol.

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 127.0.0.1)
    -p, --port <port>                Use port for clients (default: 4222, -1 for random)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring (-1 for random)
    -c, --config <file>              Configuration file (nats-server syntax)
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<exe>_<pid>.ports).
        --workers <n>                I/O threads (default: one per core)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
    -t                               Test the configuration (-c and flags) and exit
)";
}

}  // namespace ferry::ferryd
