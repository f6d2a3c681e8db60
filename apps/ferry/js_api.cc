#include "js_api.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "base/base64.h"
#include "base/duration.h"
#include "protocol/ack_subject.h"
#include "protocol/headers.h"

namespace ferry::cli {

namespace {

// How long a JetStream API request (or a publish acknowledgement) may take.
constexpr int api_timeout_ms = 5000;
constexpr std::int64_t ns_per_ms = 1'000'000;
constexpr std::int64_t ns_per_s = 1'000'000'000;

}  // namespace

const std::string* stored_message::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

// ---- js_client ----

result<natsConnection*> js_client::conn() {
  if (!session_) {
    auto s = session::open(opts_);
    if (!s.is_ok()) return s.status();
    session_ = std::move(s).value();
  }
  return session_->conn();
}

result<ojson> js_client::request(const std::string& api, const std::string& body, const std::string& what) {
  FERRY_ASSIGN_OR_RETURN(natsConnection * nc, conn());
  last_api_error_ = 0;
  const std::string subject = "$JS.API." + api;
  natsMsg* reply = nullptr;
  const natsStatus s =
      natsConnection_Request(&reply, nc, subject.c_str(), body.data(), static_cast<int>(body.size()), api_timeout_ms);
  if (s == NATS_NO_RESPONDERS) return error("JetStream not enabled on " + opts_.server);
  if (s == NATS_TIMEOUT) return deadline_exceeded("no JetStream API reply on " + subject + " within 5s");
  if (s != NATS_OK) return nats_error("JetStream API request " + subject, s);
  msg_ptr r = own(reply);
  const char* data = natsMsg_GetData(reply);
  ojson j = ojson::parse(data, data + natsMsg_GetDataLength(reply), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error("invalid JetStream API reply on " + subject);
  if (auto e = j.find("error"); e != j.end() && e->is_object()) {
    const std::string d = e->value("description", std::string("unknown error"));
    const int err_code = e->value("err_code", 0);
    last_api_error_ = err_code;
    // 10037: no message found (a normal outcome for lookups).
    return status(err_code == 10037 ? status_code::not_found : status_code::failed_precondition,
                  what.empty() ? d : what + ": " + d);
  }
  return j;
}

result<ojson> js_client::stream_info(const std::string& stream, const ojson& body) {
  return request("STREAM.INFO." + stream, body, "stream " + stream);
}

result<ojson> js_client::consumer_info(const std::string& stream, const std::string& consumer) {
  return request("CONSUMER.INFO." + stream + "." + consumer, std::string(), "consumer " + stream + " > " + consumer);
}

result<std::vector<std::string>> js_client::stream_names(const std::string& subject) {
  std::vector<std::string> names;
  for (;;) {
    ojson req;
    req["offset"] = names.size();
    if (!subject.empty()) req["subject"] = subject;
    FERRY_ASSIGN_OR_RETURN(ojson r, request("STREAM.NAMES", req, "listing streams"));
    const auto& page = r["streams"];
    if (!page.is_array() || page.empty()) break;
    for (const auto& n : page) names.push_back(n.get<std::string>());
    if (names.size() >= r.value("total", std::size_t{0})) break;
  }
  std::sort(names.begin(), names.end());
  return names;
}

result<std::vector<ojson>> js_client::list(const std::string& api, const std::string& key, const std::string& what) {
  std::vector<ojson> all;
  for (;;) {
    ojson req;
    req["offset"] = all.size();
    FERRY_ASSIGN_OR_RETURN(ojson r, request(api, req, what));
    const auto& page = r[key];
    if (!page.is_array() || page.empty()) break;
    for (const auto& e : page) all.push_back(e);
    if (all.size() >= r.value("total", std::size_t{0})) break;
  }
  return all;
}

result<stored_message> js_client::get_message(const std::string& stream, std::uint64_t seq,
                                              const std::string& last_by_subject, const std::string& next_by_subject) {
  ojson req;
  if (!last_by_subject.empty()) {
    req["last_by_subj"] = last_by_subject;
  } else {
    req["seq"] = seq;
    if (!next_by_subject.empty()) req["next_by_subj"] = next_by_subject;
  }
  FERRY_ASSIGN_OR_RETURN(ojson r, request("STREAM.MSG.GET." + stream, req, "stream " + stream));
  const ojson& m = r["message"];
  if (!m.is_object()) return error("stream " + stream + ": reply without a message");
  stored_message out;
  out.subject = m.value("subject", std::string());
  out.seq = m.value("seq", std::uint64_t{0});
  out.time = m.value("time", std::string());
  auto hdrs = ferry::base64_decode(m.value("hdrs", std::string()));
  auto data = ferry::base64_decode(m.value("data", std::string()));
  if (!hdrs || !data) return internal_error("the server's message has malformed base64 in hdrs or data");
  out.headers = parse_header_block(*hdrs);
  out.data = std::move(*data);
  return out;
}

status js_client::delete_message(const std::string& stream, std::uint64_t seq) {
  ojson req;
  req["seq"] = seq;
  auto r = request("STREAM.MSG.DELETE." + stream, req, "deleting message " + std::to_string(seq) + " of " + stream);
  return r.status();
}

status js_client::delete_consumer(const std::string& stream, const std::string& consumer) {
  auto r =
      request("CONSUMER.DELETE." + stream + "." + consumer, std::string(), "consumer " + stream + " > " + consumer);
  return r.status();
}

namespace {

result<msg_ptr> make_message(const std::string& subject, const header_list& headers, const std::string& data) {
  natsMsg* m = nullptr;
  natsStatus s = natsMsg_Create(&m, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return nats_error("invalid message for " + subject, s);
  msg_ptr msg = own(m);
  for (const auto& [k, v] : headers) {
    if ((s = natsMsgHeader_Add(m, k.c_str(), v.c_str())) != NATS_OK) return nats_error("adding header " + k, s);
  }
  return msg;
}

}  // namespace

status js_client::publish_core(const std::string& subject, const header_list& headers, const std::string& data) {
  FERRY_ASSIGN_OR_RETURN(natsConnection * nc, conn());
  FERRY_ASSIGN_OR_RETURN(msg_ptr m, make_message(subject, headers, data));
  natsStatus s = natsConnection_PublishMsg(nc, m.get());
  if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, api_timeout_ms);
  if (s != NATS_OK) return nats_error("publish to " + subject, s);
  return status::ok();
}

result<ojson> js_client::publish(const std::string& subject, const header_list& headers, const std::string& data) {
  FERRY_ASSIGN_OR_RETURN(natsConnection * nc, conn());
  FERRY_ASSIGN_OR_RETURN(msg_ptr m, make_message(subject, headers, data));
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestMsg(&reply, nc, m.get(), api_timeout_ms);
  if (s == NATS_NO_RESPONDERS) return error("publish to " + subject + ": no stream listens on the subject");
  if (s == NATS_TIMEOUT) return deadline_exceeded("publish to " + subject + ": no acknowledgement within 5s");
  if (s != NATS_OK) return nats_error("publish to " + subject, s);
  msg_ptr r = own(reply);
  const char* d = natsMsg_GetData(reply);
  ojson j = ojson::parse(d, d + natsMsg_GetDataLength(reply), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error("publish to " + subject + ": not a JetStream acknowledgement");
  if (auto e = j.find("error"); e != j.end() && e->is_object()) {
    return error("publish to " + subject + ": " + e->value("description", std::string("unknown error")));
  }
  return j;
}

status check_dead_letter_stream(js_client& js, const ojson& config, const std::string& dls, const std::string& what) {
  if (dls.empty()) return status::ok();
  if (config.value("dead_letter_stream", std::string()) != dls)
    return error(what + " was created, but the server ignored dead_letter_stream (not ferryd?)");
  auto info = js.stream_info(dls);
  if (!info.is_ok() && js.last_api_error() == err_stream_not_found) {
    std::fprintf(stderr,
                 "ferry: warning: dead-letter stream %s does not exist; dead letters are dropped until it does\n",
                 dls.c_str());
  } else if (!info.is_ok()) {
    return info.status();
  }
  return status::ok();
}

// ---- pull consumers ----

std::optional<js_metadata> parse_ack_subject(std::string_view reply) {
  const auto a = protocol::parse_ack_subject(reply);
  if (!a) return std::nullopt;
  js_metadata md;
  md.stream = std::string(a->stream);
  md.consumer = std::string(a->consumer);
  md.deliveries = a->deliveries;
  md.stream_seq = a->stream_seq;
  md.consumer_seq = a->consumer_seq;
  md.timestamp_ns = a->timestamp_ns;
  md.pending = a->pending;
  return md;
}

puller::~puller() {
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

status puller::pull(long batch, std::chrono::milliseconds expires, bool no_wait) {
  FERRY_ASSIGN_OR_RETURN(natsConnection * nc, js_.conn());
  natsStatus s = NATS_OK;
  if (sub_ == nullptr) {
    natsInbox* inbox = nullptr;
    if ((s = natsInbox_Create(&inbox)) != NATS_OK) return nats_error("creating an inbox", s);
    inbox_ = inbox;
    natsInbox_Destroy(inbox);
    if ((s = natsConnection_SubscribeSync(&sub_, nc, inbox_.c_str())) != NATS_OK) return nats_error("subscribing", s);
    natsSubscription_SetPendingLimits(sub_, -1, -1);
  }
  ojson req;
  req["batch"] = batch;
  if (expires.count() > 0) req["expires"] = expires.count() * ns_per_ms;
  if (no_wait) req["no_wait"] = true;
  const std::string body = req.dump();
  const std::string subject = "$JS.API.CONSUMER.MSG.NEXT." + stream_ + "." + consumer_;
  s = natsConnection_PublishRequest(nc, subject.c_str(), inbox_.c_str(), body.data(), static_cast<int>(body.size()));
  if (s != NATS_OK) return nats_error("pull request to " + stream_ + " > " + consumer_, s);
  outstanding_ = batch;
  return status::ok();
}

result<msg_ptr> puller::next(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (outstanding_ > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    natsMsg* m = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&m, sub_, left);
    if (s == NATS_TIMEOUT) break;
    if (s != NATS_OK) return nats_error("receiving from " + stream_ + " > " + consumer_, s);
    msg_ptr p = own(m);
    std::string description;
    const int code = status_code_of(m, &description);
    if (code == 0) {
      --outstanding_;
      return p;
    }
    if (code == 100) continue;  // idle heartbeat
    outstanding_ = 0;
    if (code == 404 || code == 408) break;  // no messages, request expired
    return error("consumer " + stream_ + " > " + consumer_ + ": " +
                 (description.empty() ? std::to_string(code) : description));
  }
  return msg_ptr(nullptr, natsMsg_Destroy);
}

// ---- messages ----

int status_code_of(natsMsg* m, std::string* description) {
  if (natsMsg_GetDataLength(m) > 0) return 0;
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, "Status", &v) != NATS_OK || v == nullptr) return 0;
  if (description != nullptr) {
    const char* d = nullptr;
    if (natsMsgHeader_Get(m, "Description", &d) == NATS_OK && d != nullptr) *description = d;
  }
  return std::atoi(v);
}

header_list headers_of(natsMsg* m) {
  header_list out;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(m, &keys, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    const char** values = nullptr;
    int nv = 0;
    if (natsMsgHeader_Values(m, keys[i], &values, &nv) == NATS_OK) {
      for (int k = 0; k < nv; ++k) out.emplace_back(keys[i], values[k]);
      free(static_cast<void*>(values));
    }
  }
  free(static_cast<void*>(keys));
  return out;
}

header_list parse_header_block(std::string_view block) {
  header_list out;
  if (block.empty()) return out;
  for (const auto& [k, v] : protocol::parse_headers(block)) out.emplace_back(std::string(k), std::string(v));
  return out;
}

// ---- units ----

std::string format_ns(std::int64_t ns) {
  if (ns <= 0) return "0s";
  if (ns < ns_per_s) {
    if (ns % ns_per_ms == 0) return std::to_string(ns / ns_per_ms) + "ms";
    if (ns % 1000 == 0) return std::to_string(ns / 1000) + "us";
    return std::to_string(ns) + "ns";
  }
  std::string out;
  const std::int64_t h = ns / (3600 * ns_per_s);
  const std::int64_t m = ns / (60 * ns_per_s) % 60;
  const std::int64_t rest = ns % (60 * ns_per_s);
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (rest > 0) {
    std::string s = std::to_string(rest / ns_per_s);
    if (const std::int64_t frac = rest % ns_per_s; frac != 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
      std::string f = buf;
      while (f.back() == '0') f.pop_back();
      s += f;
    }
    out += s + "s";
  }
  return out;
}

result<std::int64_t> parse_duration_ns(const std::string& s) {
  // A bare number is seconds, as the nats CLI takes it.
  FERRY_ASSIGN_OR_RETURN(auto d, ferry::parse_duration(s, {.bare_number_unit = std::chrono::seconds(1)}));
  return d.count();
}

std::string format_bytes(std::int64_t n) {
  if (n < 0) return "unlimited";
  if (n < 1024) return std::to_string(n) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

// ---- output ----

void print_json(ojson j) {
  if (j.is_object()) j.erase("type");
  std::printf("%s\n", j.dump(2).c_str());
}

void print_headers(const header_list& h, const char* indent) {
  for (const auto& [k, v] : h) std::printf("%s%s: %s\n", indent, k.c_str(), v.c_str());
}

void print_payload(std::string_view data) {
  std::fwrite(data.data(), 1, data.size(), stdout);
  std::fputc('\n', stdout);
}

void print_field(const std::string& label, const std::string& value, int width) {
  std::printf("  %-*s %s\n", width, (label + ":").c_str(), value.c_str());
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void on_run(command_list& out, CLI::App* sub, const connect_options& conn, std::function<status(js_client&)> body) {
  out.emplace_back(sub, [&conn, body = std::move(body)] {
    js_client js(conn);
    const status s = body(js);
    std::fflush(stdout);
    return s.is_ok() ? 0 : fail(s.message());
  });
}

}  // namespace ferry::cli
