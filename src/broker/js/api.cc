// The JetStream API on $JS.API.> (and $JS.<domain>.API.>): request parsing, dispatch, and
// replies in nats-server's JSON layout. Unknown subjects get no reply, as nats-server does.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/base64.h"
#include "broker/js/consumer.h"
#include "broker/js/jetstream.h"
#include "broker/js/stream.h"
#include "protocol/headers.h"
#include "protocol/subject.h"

namespace ferry::broker::js {

namespace {

using json = nlohmann::json;

ojson response(const std::string& type) {
  ojson j;
  j["type"] = "io.nats.jetstream.api.v1." + type;
  return j;
}

void set_error(ojson& j, const api_error& e) {
  ojson err;
  err["code"] = e.code;
  err["err_code"] = e.err_code;
  err["description"] = e.description;
  j["error"] = std::move(err);
}

// Appends every member of `from` to `to`, keeping order.
void merge(ojson& to, const ojson& from) {
  for (auto it = from.begin(); it != from.end(); ++it) to[it.key()] = it.value();
}

// The request body as JSON: an empty body is an empty object.
std::optional<json> parse_body(std::string_view body, api_error& err) {
  while (!body.empty() && (body.back() == ' ' || body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  if (body.empty()) return json::object();
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    err = errors::invalid_json();
    return std::nullopt;
  }
  // Go's json.Unmarshal leaves a field alone for null: drop the nulls so value() sees defaults.
  for (auto it = j.begin(); it != j.end();) it = it->is_null() ? j.erase(it) : std::next(it);
  return j;
}

enum class kind { str, uint, sint, boolean };

// Go's json.Unmarshal into a typed request struct: a member of the wrong type fails the whole
// request (400/10025 invalid JSON), so value() below never meets one.
bool typed(const json& j, std::initializer_list<std::pair<const char*, kind>> fields) {
  for (const auto& [k, t] : fields) {
    auto it = j.find(k);
    if (it == j.end()) continue;
    const bool ok = t == kind::str    ? it->is_string()
                    : t == kind::uint ? it->is_number_unsigned()
                    : t == kind::sint ? it->is_number_integer()
                                      : it->is_boolean();
    if (!ok) return false;
  }
  return true;
}

// nats-server's isEmptyRequest: no body, or a JSON object without members ("{}", "{ }").
bool is_empty_request(std::string_view body) {
  if (body.empty()) return true;
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  return !j.is_discarded() && j.is_object() && j.empty();
}

// The request's subject after "$JS.API.", split on dots (empty tokens kept).
std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string join(const std::vector<std::string_view>& t, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < t.size(); ++i) {
    if (i > from) out += '.';
    out += t[i];
  }
  return out;
}

// A message get (STREAM.MSG.GET, DIRECT.GET): by sequence, the last on a subject, or the next on
// a subject from a sequence.
struct get_request {
  std::uint64_t seq = 0;
  std::string last, next;
};

// The get request in `req`; nullopt when it names no message, or both a sequence and
// last_by_subj (nats-server refuses both).
std::optional<get_request> read_get_request(const json& req) {
  get_request g{req.value("seq", std::uint64_t{0}), req.value("last_by_subj", std::string()),
                req.value("next_by_subj", std::string())};
  if ((g.seq == 0 && g.last.empty() && g.next.empty()) || (g.seq != 0 && !g.last.empty())) return std::nullopt;
  if (!g.next.empty() && g.seq == 0) g.seq = 1;  // next_by_subj alone searches from the start
  return g;
}

// One API request: the tokens of its subject after "$JS.API.", its body, and where the reply goes.
struct call {
  jetstream& js;
  worker* w;
  std::string to;
  std::string_view body;
  std::vector<std::string_view> t;

  // Replies with `j`, and `e` in it unless e is ok; counts the request.
  void done(ojson& j, const api_error& e = {}) {
    if (!e.ok()) set_error(j, e);
    js.count_api(!e.ok());
    js.reply(w, to, j);
  }
  // The body as JSON, or the error to reply with.
  std::optional<json> body_json(api_error& err) const { return parse_body(body, err); }
};

// Paging as nats-server's list endpoints do it: `offset` clamped to [0, total], at most `limit`
// entries from there. Sets the paging fields of `j` and returns [first, end).
std::pair<std::size_t, std::size_t> page(ojson& j, std::size_t total, std::int64_t offset, std::size_t limit) {
  const std::size_t first = std::min<std::size_t>(static_cast<std::size_t>(std::max<std::int64_t>(offset, 0)), total);
  j["total"] = total;
  j["offset"] = first;
  j["limit"] = limit;
  return {first, std::min(total, first + limit)};
}

// The empty paging fields that nats-server 2.9 sends with some errors.
void no_page(ojson& j) {
  j["total"] = 0;
  j["offset"] = 0;
  j["limit"] = 0;
}

// ---- $JS.API.INFO ----

void account_info(call& c) {
  ojson j = response("account_info_response");
  const jetstream_stats st = c.js.stats();
  j["memory"] = st.memory;
  j["storage"] = st.storage;
  j["streams"] = st.streams;
  j["consumers"] = st.consumers;
  ojson lim;
  for (const char* k : {"max_memory", "max_storage", "max_streams", "max_consumers", "max_ack_pending",
                        "memory_max_stream_bytes", "storage_max_stream_bytes"}) {
    lim[k] = -1;
  }
  lim["max_bytes_required"] = false;
  j["limits"] = std::move(lim);
  ojson api;
  api["total"] = st.api_total;
  api["errors"] = st.api_errors;
  j["api"] = std::move(api);
  c.done(j);
}

// ---- streams ----

// STREAM.NAMES and STREAM.LIST.
void stream_list(call& c) {
  const bool names = c.t[1] == "NAMES";
  ojson j = response(names ? "stream_names_response" : "stream_list_response");
  api_error err;
  auto req = c.body_json(err);
  if (req && !typed(*req, {{"offset", kind::sint}, {"subject", kind::str}})) {
    req.reset();
    err = errors::invalid_json();
  }
  if (!req) {
    no_page(j);
    j["streams"] = names ? ojson(nullptr) : ojson::array();
    return c.done(j, err);
  }
  const std::string filter = req->value("subject", std::string());
  std::vector<std::shared_ptr<stream>> matched;
  for (auto& s : c.js.streams()) {
    const auto subjects = s->config().subjects;
    if (filter.empty() || std::any_of(subjects.begin(), subjects.end(),
                                      [&](const std::string& p) { return protocol::subjects_overlap(p, filter); })) {
      matched.push_back(s);
    }
  }
  const auto [first, end] = page(j, matched.size(), req->value("offset", std::int64_t{0}), names ? 1024 : 256);
  ojson list = ojson::array();
  for (std::size_t i = first; i < end; ++i) {
    if (names) {
      list.push_back(matched[i]->name());
    } else {
      list.push_back(matched[i]->info(false, ""));
    }
  }
  // Go marshals an empty list of names as null (a nil slice) and an empty list of infos as [].
  j["streams"] = names && list.empty() ? ojson(nullptr) : std::move(list);
  c.done(j);
}

// STREAM.MSG.GET.<stream> and STREAM.MSG.DELETE.<stream>.
void stream_msg(call& c) {
  const bool get = c.t[2] == "GET";
  ojson j = response(get ? "stream_msg_get_response" : "stream_msg_delete_response");
  api_error err;
  auto req = c.body_json(err);
  if (!req) return c.done(j, err);
  if (!typed(*req, {{"seq", kind::uint},
                    {"last_by_subj", kind::str},
                    {"next_by_subj", kind::str},
                    {"no_erase", kind::boolean}})) {
    return c.done(j, errors::invalid_json());
  }
  auto s = c.js.find_stream(c.t[3]);
  if (!s) return c.done(j, errors::stream_not_found());
  if (is_empty_request(c.body)) return c.done(j, errors::bad_request());
  if (!get) {
    const std::uint64_t seq = req->value("seq", std::uint64_t{0});
    const bool no_erase = req->value("no_erase", false);
    api_error e = seq == 0 ? errors::stream_msg_delete_failed("no message found") : s->delete_message(seq, !no_erase);
    if (e.ok()) j["success"] = true;
    return c.done(j, e);
  }
  const auto g = read_get_request(*req);
  if (!g) return c.done(j, errors::bad_request());
  auto m = s->get_message(g->seq, g->last, g->next);
  if (!m.ok()) return c.done(j, m.error());
  ojson msg;
  msg["subject"] = m.value().subject;
  msg["seq"] = m.value().seq.value;
  if (!m.value().headers.empty()) msg["hdrs"] = base64_encode(m.value().headers);
  if (!m.value().data.empty()) msg["data"] = base64_encode(m.value().data);
  msg["time"] = format_rfc3339(m.value().timestamp_ns);
  j["message"] = std::move(msg);
  c.done(j);
}

api_error overlaps_another(jetstream& js, const std::shared_ptr<stream>& s, const stream_config& next) {
  for (auto& other : js.streams()) {
    if (other == s) continue;
    for (const std::string& a : next.subjects) {
      for (const std::string& b : other->config().subjects) {
        if (protocol::subjects_overlap(a, b)) return errors::subjects_overlap();
      }
    }
  }
  return {};
}

// STREAM.CREATE.<stream> and STREAM.UPDATE.<stream>.
void stream_create_or_update(call& c) {
  const bool create = c.t[1] == "CREATE";
  const std::string name(c.t[2]);
  ojson j = response(create ? "stream_create_response" : "stream_update_response");
  if (c.body.empty()) return c.done(j, errors::invalid_json());
  api_error err;
  auto req = c.body_json(err);
  if (!req) return c.done(j, err);
  auto cfg = parse_stream_config(*req);
  if (!cfg.ok()) return c.done(j, cfg.error());
  if (cfg.value().name != name) return c.done(j, errors::stream_mismatch());
  if (create) {
    if (name.find_first_of("/\\") != std::string::npos) return c.done(j, errors::stream_name_has_separators());
    if (cfg.value().sealed) {
      return c.done(j, errors::stream_invalid_config("stream configuration for create can not be sealed"));
    }
    auto s = c.js.create_stream(cfg.value());
    if (!s.ok()) return c.done(j, s.error());
    merge(j, s.value()->info(false, ""));
    j["did_create"] = true;  // nats-server 2.9 says so for an identical re-create too
    return c.done(j);
  }
  auto s = c.js.find_stream(name);
  if (!s) return c.done(j, errors::stream_not_found());
  stream_config next = cfg.value();
  // nats-server 2.9 refuses replicas > 1 on create only; an update keeps the number (up to 5).
  const int replicas = next.num_replicas;
  if (replicas > 1 && replicas <= 5) next.num_replicas = 1;
  if (api_error e = normalize(next); !e.ok()) return c.done(j, e);
  if (replicas > 1 && replicas <= 5) next.num_replicas = replicas;
  if (api_error e = overlaps_another(c.js, s, next); !e.ok()) return c.done(j, e);
  if (api_error e = s->update(next); !e.ok()) return c.done(j, e);
  merge(j, s->info(false, ""));
  c.done(j);
}

// STREAM.INFO.<stream>.
void stream_info(call& c) {
  ojson j = response("stream_info_response");
  auto fail = [&](const api_error& e) {
    no_page(j);
    c.done(j, e);
  };
  api_error err;
  auto req = c.body_json(err);
  if (req && !typed(*req, {{"deleted_details", kind::boolean}, {"subjects_filter", kind::str}})) {
    return fail(errors::invalid_json());
  }
  if (!req) return fail(err);
  auto s = c.js.find_stream(c.t[2]);
  if (!s) return fail(errors::stream_not_found());
  ojson info = s->info(req->value("deleted_details", false), req->value("subjects_filter", std::string()));
  std::size_t subjects = 0;
  if (info["state"].contains("subjects")) subjects = info["state"]["subjects"].size();
  j["total"] = subjects;
  j["offset"] = 0;
  j["limit"] = subjects > 0 ? 100000 : 0;
  merge(j, info);
  c.done(j);
}

// STREAM.DELETE.<stream>.
void stream_delete(call& c) {
  ojson j = response("stream_delete_response");
  if (!is_empty_request(c.body)) return c.done(j, errors::not_empty_request());
  api_error e = c.js.delete_stream(std::string(c.t[2]));
  if (e.ok()) j["success"] = true;
  c.done(j, e);
}

// STREAM.PURGE.<stream>.
void stream_purge(call& c) {
  ojson j = response("stream_purge_response");
  auto fail = [&](const api_error& e) {
    j["purged"] = 0;  // nats-server omits "success" when it is false
    c.done(j, e);
  };
  api_error err;
  auto req = c.body_json(err);
  if (req && !typed(*req, {{"filter", kind::str}, {"seq", kind::uint}, {"keep", kind::uint}})) {
    return fail(errors::invalid_json());
  }
  if (!req) return fail(err);
  auto s = c.js.find_stream(c.t[2]);
  if (!s) return fail(errors::stream_not_found());
  store::purge_request pr;
  pr.filter = req->value("filter", std::string());
  if (auto seq = req->value("seq", std::uint64_t{0}); seq > 0) pr.up_to = store::stream_seq{seq};
  if (req->contains("keep")) pr.keep = req->value("keep", std::uint64_t{0});
  if (pr.up_to && pr.keep) return fail(errors::bad_request());
  auto n = s->purge(pr);
  if (!n.ok()) return fail(n.error());
  j["success"] = true;
  j["purged"] = n.value();
  c.done(j);
}

// DIRECT.GET.<stream> (request in the body) and DIRECT.GET.<stream>.<subject> (last by subject).
// Replies are the message itself with headers, or a status; not counted as errors.
void direct_get(call& c) {
  auto s = c.js.find_stream(c.t[2]);
  if (!s || !s->config().allow_direct) return;  // not subscribed: no reply, as nats-server
  route_options o;
  o.clients_only = true;
  auto status_reply = [&](const status_line& st) { c.js.server().publish(c.w, c.to, {}, st.headers(), {}, o, true); };
  get_request g;
  if (c.t.size() > 3) {
    g.last = join(c.t, 3);
    if (!c.body.empty()) return status_reply(statuses::direct_bad_request);
  } else {
    if (c.body.empty()) return status_reply(statuses::direct_empty_request);
    api_error ignored;
    auto req = c.body_json(ignored);
    if (!req || !typed(*req, {{"seq", kind::uint}, {"last_by_subj", kind::str}, {"next_by_subj", kind::str}})) {
      return status_reply(statuses::direct_malformed_request);
    }
    if (is_empty_request(c.body)) return status_reply(statuses::direct_empty_request);
    auto read = read_get_request(*req);
    if (!read) return status_reply(statuses::direct_bad_request);
    g = std::move(*read);
  }
  auto m = s->get_message(g.seq, g.last, g.next);
  c.js.count_api(false);
  if (!m.ok()) return status_reply(statuses::message_not_found);
  protocol::header_builder hb;
  if (!m.value().headers.empty()) hb.add_block(m.value().headers);
  hb.add("Nats-Stream", s->name())
      .add("Nats-Subject", m.value().subject)
      .add("Nats-Sequence", std::to_string(m.value().seq.value))
      .add("Nats-Time-Stamp", format_rfc3339(m.value().timestamp_ns));
  c.js.server().publish(c.w, c.to, {}, hb.finish(), m.value().data, o, true);
}

// ---- consumers ----

// The names in a consumer create subject and body, checked against each other as nats-server
// 2.9 does; the error to reply with otherwise.
api_error check_consumer_names(const call& c, bool durable_create, consumer_config& cfg) {
  const std::string cname = durable_create ? std::string(c.t[4]) : c.t.size() >= 4 ? std::string(c.t[3]) : "";
  if (cname.find_first_of("/\\") != std::string::npos) return errors::consumer_name_has_separators();
  if (durable_create) {
    if (cfg.durable_name.empty()) return errors::consumer_durable_name_not_set();
    if (cfg.durable_name != cname) return errors::consumer_durable_name_mismatch();
  } else if (!cname.empty()) {
    if (!cfg.durable_name.empty() && cfg.durable_name != cname) return errors::consumer_durable_name_mismatch();
    cfg.name = cname;  // nats-server 2.9 silently takes the name from the subject
    if (c.t.size() >= 5 && cfg.filter_subject != join(c.t, 4)) return errors::consumer_filter_subject_mismatch();
  } else if (!cfg.durable_name.empty()) {
    return errors::consumer_ephemeral_with_durable();
  }
  if (cfg.num_replicas > 1) return errors::replicas_not_supported();
  return {};
}

// CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]] and CONSUMER.DURABLE.CREATE.<stream>.<consumer>.
void consumer_create(call& c) {
  const bool durable_create = c.t[1] == "DURABLE";
  ojson j = response("consumer_create_response");
  const std::string stream_name(durable_create ? c.t[3] : c.t[2]);
  // nats-server 2.9's order: the whole body is decoded first (an empty body is invalid JSON,
  // a missing config an empty one), then the names, the filter and the replicas are checked.
  if (c.body.empty()) return c.done(j, errors::invalid_json());
  api_error err;
  auto req = c.body_json(err);
  if (!req) return c.done(j, err);
  const auto cfg_it = req->find("config");
  auto cfg = parse_consumer_config(cfg_it != req->end() && !cfg_it->is_null() ? *cfg_it : json::object());
  if (!cfg.ok()) return c.done(j, cfg.error());
  std::string body_stream;
  if (auto it = req->find("stream_name"); it != req->end() && !it->is_null()) {
    if (!it->is_string()) return c.done(j, errors::invalid_json());
    body_stream = it->get<std::string>();
  }
  if (body_stream != stream_name) return c.done(j, errors::stream_mismatch());
  if (api_error e = check_consumer_names(c, durable_create, cfg.value()); !e.ok()) return c.done(j, e);
  auto s = c.js.find_stream(stream_name);
  if (!s) return c.done(j, errors::stream_not_found());
  // nats-server 2.9 ignores "action" (create updates, update creates).
  auto r = s->add_consumer(cfg.value());
  if (r.ok()) {
    std::lock_guard lock(s->mutex());
    merge(j, r.value()->initial_info());
  }
  s->run_deferred(c.w);
  c.done(j, r.ok() ? api_error{} : r.error());
}

// CONSUMER.NAMES.<stream> and CONSUMER.LIST.<stream>.
void consumer_list(call& c) {
  const bool names = c.t[1] == "NAMES";
  ojson j = response(names ? "consumer_names_response" : "consumer_list_response");
  auto fail = [&](const api_error& e) {
    no_page(j);
    j["consumers"] = ojson::array();
    c.done(j, e);
  };
  api_error err;
  auto req = c.body_json(err);
  if (req && !typed(*req, {{"offset", kind::sint}})) return fail(errors::invalid_json());
  if (!req) return fail(err);
  auto s = c.js.find_stream(c.t[2]);
  if (!s) return fail(errors::stream_not_found());
  auto all = s->consumers();
  const auto [first, end] = page(j, all.size(), req->value("offset", std::int64_t{0}), names ? 1024 : 256);
  ojson list = ojson::array();
  {
    std::lock_guard lock(s->mutex());
    for (std::size_t i = first; i < end; ++i) {
      if (names) {
        list.push_back(all[i]->name());
      } else {
        list.push_back(all[i]->info());
      }
    }
  }
  j["consumers"] = std::move(list);  // nats-server starts from an empty list: [] even for names
  c.done(j);
}

// CONSUMER.INFO.<stream>.<consumer>.
void consumer_info(call& c) {
  ojson j = response("consumer_info_response");
  if (!is_empty_request(c.body)) return c.done(j, errors::not_empty_request());
  auto s = c.js.find_stream(c.t[2]);
  if (!s) return c.done(j, errors::stream_not_found());
  {
    std::lock_guard lock(s->mutex());
    auto con = s->find_consumer_locked(std::string(c.t[3]));
    if (!con) return c.done(j, errors::consumer_not_found());
    merge(j, con->info());
  }
  c.done(j);
}

// CONSUMER.DELETE.<stream>.<consumer>.
void consumer_delete(call& c) {
  ojson j = response("consumer_delete_response");
  if (!is_empty_request(c.body)) return c.done(j, errors::not_empty_request());
  auto s = c.js.find_stream(c.t[2]);
  if (!s) return c.done(j, errors::stream_not_found());
  api_error e = s->delete_consumer(std::string(c.t[3]));
  if (e.ok()) j["success"] = true;
  c.done(j, e);
}

// CONSUMER.MSG.NEXT.<stream>.<consumer>: a pull request. nats-server sends nothing for a
// missing stream or consumer.
void consumer_next(call& c) {
  auto s = c.js.find_stream(c.t[3]);
  if (!s) return;
  {
    std::lock_guard lock(s->mutex());
    auto con = s->find_consumer_locked(std::string(c.t[4]));
    if (!con) return;
    con->on_pull_request(c.body, c.to, c.w);
  }
  s->run_deferred(c.w);
}

// The API's endpoints by subject after "$JS.API.": "*" is any one token, ">" one or more.
// The first match serves the request; a subject that matches none gets no reply, as
// nats-server does.
struct route {
  std::string_view pattern;
  void (*serve)(call&);
};
constexpr route routes[] = {
    {"INFO", account_info},
    {"STREAM.NAMES", stream_list},
    {"STREAM.LIST", stream_list},
    {"STREAM.MSG.GET.*", stream_msg},
    {"STREAM.MSG.DELETE.*", stream_msg},
    {"STREAM.CREATE.*", stream_create_or_update},
    {"STREAM.UPDATE.*", stream_create_or_update},
    {"STREAM.INFO.*", stream_info},
    {"STREAM.DELETE.*", stream_delete},
    {"STREAM.PURGE.*", stream_purge},
    {"DIRECT.GET.>", direct_get},
    {"CONSUMER.DURABLE.CREATE.*.*", consumer_create},
    {"CONSUMER.CREATE.>", consumer_create},
    {"CONSUMER.NAMES.*", consumer_list},
    {"CONSUMER.LIST.*", consumer_list},
    {"CONSUMER.INFO.*.*", consumer_info},
    {"CONSUMER.DELETE.*.*", consumer_delete},
    {"CONSUMER.MSG.NEXT.*.*", consumer_next},
};

bool route_matches(std::string_view pattern, const std::vector<std::string_view>& t) {
  const auto p = split(pattern);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return t.size() > i;
    if (i >= t.size() || (p[i] != "*" && p[i] != t[i])) return false;
  }
  return p.size() == t.size();
}

}  // namespace

bool jetstream::handle_api(const protocol::pub_frame& f, worker* w) {
  try {
    handle_api_request(f, w);
  } catch (const std::exception& e) {  // a request must never take the broker down
    spdlog::warn("JetStream API request on {}: {}", f.subject, e.what());
  }
  return true;  // nats-server subscribes to all of $JS.API.>: no no-responders, even for unknown subjects
}

void jetstream::handle_api_request(const protocol::pub_frame& f, worker* w) {
  std::string_view subject = f.subject;
  if (!subject.starts_with("$JS.API.")) return;
  subject.remove_prefix(8);
  call c{*this, w, std::string(f.reply), f.data.substr(f.header_size), split(subject)};
  for (const route& r : routes) {
    if (route_matches(r.pattern, c.t)) return r.serve(c);
  }
}

}  // namespace ferry::broker::js
