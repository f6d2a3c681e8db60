#include "broker/monitor.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/prometheus.h"
#include "broker/connection.h"
#include "broker/core.h"
#include "broker/http_server.h"
#include "broker/js/config.h"
#include "broker/js/consumer.h"
#include "broker/js/jetstream.h"
#include "broker/js/stream.h"
#include "protocol/go_json.h"

namespace ferry::broker {

using ojson = nlohmann::ordered_json;

// Go's encoder writes a float64 with no fraction as an integer ("auth_timeout": 2).
ojson go_number(double v) {
  if (v == static_cast<double>(static_cast<long long>(v))) return static_cast<long long>(v);
  return v;
}

// nats-server's monitoring JSON is indented by two spaces (json.MarshalIndent).
std::string pretty(const ojson& j) {
  return protocol::go_escape(j.dump(2, ' ', false, ojson::error_handler_t::replace));
}

namespace {

std::string duration_text(std::chrono::nanoseconds d) {
  // Go's time.Duration.String() for the common ranges: "1.5ms", "2s", "1m30s".
  const double ns = static_cast<double>(d.count());
  char buf[64];
  if (d.count() == 0) return "0s";
  if (ns < 1e3) {
    std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(d.count()));
  } else if (ns < 1e6) {
    std::snprintf(buf, sizeof buf, "%gµs", ns / 1e3);
  } else if (ns < 1e9) {
    std::snprintf(buf, sizeof buf, "%gms", ns / 1e6);
  } else {
    return format_uptime(std::chrono::duration_cast<std::chrono::seconds>(d));
  }
  return buf;
}

std::int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  f >> pages >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// JetStream's "config" object, as /jsz and /varz show it (nats-server's JetStreamConfig).
ojson js_config(js::jetstream* js) {
  ojson cfg;
  cfg["max_memory"] = js == nullptr ? 0 : -1;
  cfg["max_storage"] = js == nullptr ? 0 : -1;
  if (js != nullptr) {
    cfg["store_dir"] = js->store_dir();
    cfg["sync_always"] = js->sync() == store::sync_policy::always;
  }
  return cfg;
}

// nats-server's JetStreamStats fields into `j`.
void add_js_stats(ojson& j, const js::jetstream_stats& st, bool enabled) {
  j["memory"] = st.memory;
  j["storage"] = st.storage;
  j["reserved_memory"] = 0;
  j["reserved_storage"] = 0;
  j["accounts"] = enabled ? 1 : 0;
  j["ha_assets"] = 0;
  ojson api;
  api["total"] = st.api_total;
  api["errors"] = st.api_errors;
  j["api"] = std::move(api);
}

}  // namespace

std::string format_uptime(std::chrono::seconds s) {
  long long t = s.count();
  const long long y = t / (365LL * 86400);
  t -= y * 365LL * 86400;
  const long long d = t / 86400;
  t -= d * 86400;
  const long long h = t / 3600;
  t -= h * 3600;
  const long long m = t / 60;
  t -= m * 60;
  std::string out;
  if (y) out += std::to_string(y) + "y";
  if (y || d) out += std::to_string(d) + "d";
  if (y || d || h) out += std::to_string(h) + "h";
  if (y || d || h || m) out += std::to_string(m) + "m";
  out += std::to_string(t) + "s";
  return out;
}

std::string format_time(std::chrono::system_clock::time_point t) { return ferry::format_rfc3339(t); }

monitor::monitor(server_core& core) : core_(core) {}

monitor::~monitor() { stop(); }

status monitor::start(const std::string& host, int port) {
  http_ = std::make_unique<http_server>();
  http_->on_request([this](const http_request& req) {
    std::lock_guard lock(stats_mu_);
    ++req_stats_[req.path];
  });
  const auto json = [](std::string body) { return http_response{200, "application/json", std::move(body)}; };
  http_->route("/varz", [this, json](const http_request&) { return json(varz()); });
  http_->route("/connz", [this, json](const http_request& req) {
    int offset = 0;
    int limit = 1024;
    try {
      if (req.params.contains("offset")) offset = std::stoi(req.params.at("offset"));
      if (req.params.contains("limit")) limit = std::stoi(req.params.at("limit"));
    } catch (const std::exception&) {
      return http_response{400, "text/plain; charset=utf-8", "invalid offset or limit\n"};
    }
    return json(connz(req.flag("subs"), offset, limit));
  });
  http_->route("/subsz", [this, json](const http_request& req) { return json(subsz(req.flag("subs"))); });
  http_->route("/jsz", [this, json](const http_request& req) {
    return json(jsz(req.flag("streams") || req.flag("consumers") || req.flag("config"), req.flag("consumers")));
  });
  // Answered on the server's own thread from a constant: slow or many other clients do not delay it.
  http_->route("/healthz", [json](const http_request&) { return json(R"({"status":"ok"})"); });
  http_->route("/metrics", [this](const http_request&) {
    return http_response{200, "text/plain; version=0.0.4", metrics()};
  });
  http_->route("/", [](const http_request&) {
    return http_response{200, "text/html; charset=utf-8",
                         "<html><body><h1>ferryd</h1><a href=/varz>varz</a><br><a href=/connz>connz</a><br>"
                         "<a href=/subsz>subsz</a><br><a href=/jsz>jsz</a><br><a href=/healthz>healthz</a><br>"
                         "<a href=/metrics>metrics</a></body></html>\n"};
  });
  auto bound = http_->start(host, port);
  if (!bound.is_ok()) {
    http_.reset();
    return bound.status();
  }
  port_ = *bound;
  spdlog::info("Starting http monitor on {}:{}", host, port_);
  return status::ok();
}

void monitor::stop() {
  if (http_) http_->stop();
}

std::string monitor::varz() const {
  const server_options& o = core_.options();
  const server_stats st = core_.stats();
  const auto now = std::chrono::system_clock::now();
  ojson j;
  j["server_id"] = core_.id();
  j["server_name"] = core_.name();
  j["version"] = nats_compat_version;
  j["proto"] = 1;
  j["go"] = std::string("ferryd ") + ferryd_version;
  j["host"] = o.host;
  j["port"] = core_.port();
  if (core_.auth().required()) j["auth_required"] = true;
  if (o.tls.enabled) {
    j["tls_required"] = true;
    if (o.tls.verify) j["tls_verify"] = true;
  }
  j["max_connections"] = o.max_connections;
  j["ping_interval"] = std::chrono::duration_cast<std::chrono::nanoseconds>(o.ping_interval).count();
  j["ping_max"] = o.ping_max;
  j["http_host"] = o.http_host.empty() ? o.host : o.http_host;
  j["http_port"] = port_;
  j["http_base_path"] = "";
  j["https_port"] = 0;
  const auto auth_timeout = o.auth.timeout.count() ? o.auth.timeout : std::chrono::milliseconds(2000);
  j["auth_timeout"] = go_number(static_cast<double>(auth_timeout.count()) / 1000.0);
  j["max_control_line"] = o.max_control_line;
  j["max_payload"] = o.max_payload;
  j["max_pending"] = o.max_pending;
  for (const char* k : {"cluster", "gateway", "leaf", "mqtt", "websocket"}) j[k] = ojson::object();
  // nats-server: {} without JetStream, else its config and stats (as in /jsz).
  j["jetstream"] = ojson::object();
  if (auto* js = const_cast<server_core&>(core_).jetstream()) {
    ojson stats;
    add_js_stats(stats, js->stats(), true);
    j["jetstream"]["config"] = js_config(js);
    j["jetstream"]["stats"] = std::move(stats);
  }
  j["tls_timeout"] = go_number(static_cast<double>(o.tls.timeout.count()) / 1000.0);
  j["write_deadline"] = std::chrono::duration_cast<std::chrono::nanoseconds>(o.write_deadline).count();
  j["start"] = format_time(core_.start_time());
  j["now"] = format_time(now);
  j["uptime"] = format_uptime(std::chrono::duration_cast<std::chrono::seconds>(now - core_.start_time()));
  j["mem"] = resident_bytes();
  j["cores"] = std::thread::hardware_concurrency();
  j["cpu"] = cpu_seconds();
  j["connections"] = st.connections;
  j["total_connections"] = st.total_connections;
  j["routes"] = 0;
  j["remotes"] = 0;
  j["leafnodes"] = 0;
  j["in_msgs"] = st.in_msgs;
  j["out_msgs"] = st.out_msgs;
  j["in_bytes"] = st.in_bytes;
  j["out_bytes"] = st.out_bytes;
  j["slow_consumers"] = st.slow_consumers;
  j["subscriptions"] = st.subscriptions;
  {
    std::lock_guard lock(stats_mu_);
    ojson reqs = ojson::object();
    for (const auto& [path, n] : req_stats_) reqs[path] = n;
    j["http_req_stats"] = std::move(reqs);
  }
  j["config_load_time"] = format_time(core_.start_time());
  j["worker_threads"] = core_.workers().size();
  j["ferryd_version"] = ferryd_version;
  return pretty(j);
}

std::string monitor::connz(bool subs, int offset, int limit) const {
  auto clients = core_.clients();
  const auto now = std::chrono::system_clock::now();
  ojson j;
  j["server_id"] = core_.id();
  j["now"] = format_time(now);
  if (offset < 0) offset = 0;
  if (limit <= 0) limit = 1024;
  ojson list = ojson::array();
  int idx = 0;
  for (const auto& c : clients) {
    if (idx++ < offset) continue;
    if (static_cast<int>(list.size()) >= limit) break;
    connection_info i = c->info(subs);
    ojson e;
    e["cid"] = i.cid;
    e["kind"] = "Client";
    e["type"] = "nats";
    e["ip"] = i.ip;
    e["port"] = i.port;
    e["start"] = format_time(i.start);
    e["last_activity"] = format_time(i.last_activity);
    e["rtt"] = duration_text(i.rtt);
    e["uptime"] = format_uptime(std::chrono::duration_cast<std::chrono::seconds>(now - i.start));
    e["idle"] = format_uptime(std::chrono::duration_cast<std::chrono::seconds>(now - i.last_activity));
    e["pending_bytes"] = i.pending_bytes;
    e["in_msgs"] = i.in_msgs;
    e["out_msgs"] = i.out_msgs;
    e["in_bytes"] = i.in_bytes;
    e["out_bytes"] = i.out_bytes;
    e["subscriptions"] = i.num_subs;
    if (!i.name.empty()) e["name"] = i.name;
    if (!i.lang.empty()) e["lang"] = i.lang;
    if (!i.version.empty()) e["version"] = i.version;
    if (i.tls) e["tls_version"] = "1.3";
    if (subs && !i.subs.empty()) e["subscriptions_list"] = i.subs;
    if (!i.user.empty()) e["authorized_user"] = i.user;
    list.push_back(std::move(e));
  }
  j["num_connections"] = list.size();
  j["total"] = clients.size();
  j["offset"] = offset;
  j["limit"] = limit;
  j["connections"] = std::move(list);
  return pretty(j);
}

std::string monitor::subsz(bool subs) const {
  const sublist_stats st = const_cast<server_core&>(core_).subjects().stats();
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::size_t cached = 0;
  for (const auto& w : core_.workers()) {
    // Racy reads of per-thread counters: monitoring only, approximate by design.
    hits += w->cache().hits();
    misses += w->cache().misses();
    cached += w->cache().size();
  }
  ojson j;
  if (subs) {
    j["server_id"] = core_.id();
    j["now"] = format_time(std::chrono::system_clock::now());
  }
  j["num_subscriptions"] = st.subscriptions;
  j["num_cache"] = cached;
  j["num_inserts"] = st.inserts;
  j["num_removes"] = st.removes;
  j["num_matches"] = st.matches + hits;
  j["cache_hit_rate"] = go_number(hits + misses ? static_cast<double>(hits) / static_cast<double>(hits + misses) : 0.0);
  j["max_fanout"] = st.max_fanout;
  j["avg_fanout"] = go_number(st.avg_fanout);
  if (subs) {
    ojson list = ojson::array();
    const_cast<server_core&>(core_).subjects().for_each([&](const subscription_ptr& s) {
      ojson e;
      e["account"] = "$G";
      e["subject"] = s->subject;
      if (!s->queue.empty()) e["qgroup"] = s->queue;
      e["sid"] = s->sid;
      e["cid"] = s->target->client_id();
      list.push_back(std::move(e));
    });
    j["total"] = list.size();
    j["offset"] = 0;
    j["limit"] = std::max<std::size_t>(1024, list.size());
    j["subscriptions_list"] = std::move(list);
  }
  return pretty(j);
}

std::string monitor::jsz(bool streams, bool consumers) const {
  auto* js = const_cast<server_core&>(core_).jetstream();
  ojson j;
  j["server_id"] = core_.id();
  j["now"] = format_time(std::chrono::system_clock::now());
  if (js == nullptr) j["disabled"] = true;
  j["config"] = js_config(js);
  // ferryd's extension: damage found in the store since start (streams set aside, consumer
  // state lost, messages that could not be read), as logged.
  if (js != nullptr) {
    if (auto problems = js->problems(); !problems.empty()) j["problems"] = std::move(problems);
  }
  const js::jetstream_stats st = js != nullptr ? js->stats() : js::jetstream_stats{};
  add_js_stats(j, st, js != nullptr);
  j["streams"] = st.streams;
  j["consumers"] = st.consumers;
  j["messages"] = st.messages;
  j["bytes"] = st.bytes;
  if (js != nullptr && streams) {
    ojson account;
    account["name"] = "$G";
    account["id"] = "$G";
    ojson details = ojson::array();
    for (auto& s : js->streams()) {
      ojson info = s->info(false, "");
      ojson d;
      d["name"] = s->name();
      d["created"] = info["created"];
      d["config"] = info["config"];
      d["state"] = info["state"];
      if (consumers) {
        ojson cs = ojson::array();
        std::lock_guard lock(s->mutex());
        for (auto& c : s->consumers_locked()) cs.push_back(c->info());
        d["consumer_detail"] = std::move(cs);
      }
      details.push_back(std::move(d));
    }
    account["stream_detail"] = std::move(details);
    j["account_details"] = ojson::array({std::move(account)});
  }
  return pretty(j);
}

std::string monitor::metrics() const {
  const server_stats st = core_.stats();
  prometheus_writer w;
  auto metric = [&w](const char* name, const char* type, const char* help, double value) {
    w.family(name, type, help);
    w.sample(name, {}, value);
  };
  metric("ferryd_connections", "gauge", "Client connections open now.", static_cast<double>(st.connections));
  metric("ferryd_connections_total", "counter", "Client connections accepted since start.",
         static_cast<double>(st.total_connections));
  metric("ferryd_subscriptions", "gauge", "Subscriptions registered now.", static_cast<double>(st.subscriptions));
  metric("ferryd_in_msgs_total", "counter", "Messages received from clients.", static_cast<double>(st.in_msgs));
  metric("ferryd_out_msgs_total", "counter", "Messages delivered to clients.", static_cast<double>(st.out_msgs));
  metric("ferryd_in_bytes_total", "counter", "Payload bytes received from clients.", static_cast<double>(st.in_bytes));
  metric("ferryd_out_bytes_total", "counter", "Payload bytes delivered to clients.", static_cast<double>(st.out_bytes));
  metric("ferryd_slow_consumers_total", "counter", "Clients cut off as slow consumers.",
         static_cast<double>(st.slow_consumers));
  metric("ferryd_uptime_seconds", "gauge", "Seconds since the server started.",
         static_cast<double>(
             std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - core_.start_time())
                 .count()));
  metric("ferryd_resident_memory_bytes", "gauge", "Resident memory of the process.",
         static_cast<double>(resident_bytes()));
  metric("ferryd_cpu_seconds_total", "counter", "CPU time used by the process.", cpu_seconds());
  auto* js = const_cast<server_core&>(core_).jetstream();
  if (js == nullptr) return w.take();
  const js::jetstream_stats jst = js->stats();
  metric("ferryd_jetstream_streams", "gauge", "JetStream streams.", static_cast<double>(jst.streams));
  metric("ferryd_jetstream_consumers", "gauge", "JetStream consumers.", static_cast<double>(jst.consumers));
  metric("ferryd_jetstream_messages", "gauge", "Messages stored in all streams.", static_cast<double>(jst.messages));
  metric("ferryd_jetstream_bytes", "gauge", "Bytes stored in all streams.", static_cast<double>(jst.bytes));
  metric("ferryd_jetstream_api_requests_total", "counter", "JetStream API requests.",
         static_cast<double>(jst.api_total));
  metric("ferryd_jetstream_api_errors_total", "counter", "JetStream API requests that failed.",
         static_cast<double>(jst.api_errors));
  metric("ferryd_jetstream_problems", "gauge", "Damage found in the store since start (listed in /jsz).",
         static_cast<double>(js->problems().size()));

  // Per stream and per consumer, labelled: read once, then written family by family.
  struct stream_row {
    std::string name;
    double messages, bytes, last_seq;
  };
  struct consumer_row {
    std::string stream, name;
    double pending, ack_pending, redelivered;
  };
  std::vector<stream_row> streams;
  std::vector<consumer_row> consumers;
  for (auto& s : js->streams()) {
    const ojson info = s->info(false, "");
    streams.push_back({s->name(), info["state"]["messages"].get<double>(), info["state"]["bytes"].get<double>(),
                       info["state"]["last_seq"].get<double>()});
    std::lock_guard lock(s->mutex());
    for (auto& c : s->consumers_locked()) {
      const ojson ci = c->info();
      consumers.push_back({s->name(), c->name(), ci["num_pending"].get<double>(), ci["num_ack_pending"].get<double>(),
                           ci["num_redelivered"].get<double>()});
    }
  }
  const auto per_stream = [&](const char* name, const char* help, double stream_row::*field) {
    w.family(name, "gauge", help);
    for (const stream_row& r : streams) w.sample(name, {{"stream", r.name}}, r.*field);
  };
  per_stream("ferryd_stream_messages", "Messages in the stream.", &stream_row::messages);
  per_stream("ferryd_stream_bytes", "Bytes in the stream.", &stream_row::bytes);
  per_stream("ferryd_stream_last_seq", "Last sequence of the stream.", &stream_row::last_seq);
  const auto per_consumer = [&](const char* name, const char* help, double consumer_row::*field) {
    w.family(name, "gauge", help);
    for (const consumer_row& r : consumers) w.sample(name, {{"stream", r.stream}, {"consumer", r.name}}, r.*field);
  };
  per_consumer("ferryd_consumer_num_pending", "Messages the consumer has yet to deliver.", &consumer_row::pending);
  per_consumer("ferryd_consumer_num_ack_pending", "Messages delivered and not yet acknowledged.",
               &consumer_row::ack_pending);
  per_consumer("ferryd_consumer_num_redelivered", "Messages delivered more than once.", &consumer_row::redelivered);
  return w.take();
}

}  // namespace ferry::broker
