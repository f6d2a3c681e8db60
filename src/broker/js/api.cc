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
  const std::string to(f.reply);
  const std::string_view body = f.data.substr(f.header_size);
  const auto t = split(subject);
  if (t.empty()) return;
  api_error err;
  auto done = [&](ojson& j, const api_error& e) {
    if (!e.ok()) set_error(j, e);
    count_api(!e.ok());
    reply(w, to, j);
  };

  if (t.size() == 1 && t[0] == "INFO") {
    ojson j = response("account_info_response");
    const jetstream_stats st = stats();
    j["memory"] = st.memory;
    j["storage"] = st.storage;
    j["streams"] = st.streams;
    j["consumers"] = st.consumers;
    ojson lim;
    lim["max_memory"] = -1;
    lim["max_storage"] = -1;
    lim["max_streams"] = -1;
    lim["max_consumers"] = -1;
    lim["max_ack_pending"] = -1;
    lim["memory_max_stream_bytes"] = -1;
    lim["storage_max_stream_bytes"] = -1;
    lim["max_bytes_required"] = false;
    j["limits"] = std::move(lim);
    ojson api;
    api["total"] = st.api_total;
    api["errors"] = st.api_errors;
    j["api"] = std::move(api);
    return done(j, {});
  }

  if (t[0] == "STREAM" && t.size() >= 2) {
    const std::string_view op = t[1];
    if ((op == "NAMES" || op == "LIST") && t.size() == 2) {
      const bool names = op == "NAMES";
      ojson j = response(names ? "stream_names_response" : "stream_list_response");
      auto req = parse_body(body, err);
      if (req && !typed(*req, {{"offset", kind::sint}, {"subject", kind::str}})) {
        req.reset();
        err = errors::invalid_json();
      }
      if (!req) {
        // nats-server 2.9 sends the (empty) paging fields with the error.
        j["total"] = 0;
        j["offset"] = 0;
        j["limit"] = 0;
        j["streams"] = names ? ojson(nullptr) : ojson::array();
        return done(j, err);
      }
      const std::int64_t offset = req->value("offset", std::int64_t{0});
      const std::string filter = req->value("subject", std::string());
      std::vector<std::shared_ptr<stream>> all = streams();
      std::vector<std::shared_ptr<stream>> matched;
      for (auto& s : all) {
        if (filter.empty()) {
          matched.push_back(s);
          continue;
        }
        for (const std::string& p : s->config().subjects) {
          if (protocol::subjects_overlap(p, filter)) {
            matched.push_back(s);
            break;
          }
        }
      }
      const std::size_t limit = names ? 1024 : 256;
      const std::size_t first = std::min<std::size_t>(static_cast<std::size_t>(std::max<std::int64_t>(offset, 0)), matched.size());
      j["total"] = matched.size();
      j["offset"] = first;
      j["limit"] = limit;
      ojson list = ojson::array();
      for (std::size_t i = first; i < matched.size() && list.size() < limit; ++i) {
        if (names) {
          list.push_back(matched[i]->name());
        } else {
          ojson info = matched[i]->info(false, "");
          list.push_back(std::move(info));
        }
      }
      // Go marshals an empty list of names as null (a nil slice) and an empty list of infos as [].
      j["streams"] = names && list.empty() ? ojson(nullptr) : std::move(list);
      return done(j, {});
    }
    if (t.size() < 3) return;  // unknown: no reply
    if (op == "MSG" && t.size() == 4 && (t[2] == "GET" || t[2] == "DELETE")) {
      const std::string name(t[3]);
      const bool get = t[2] == "GET";
      ojson j = response(get ? "stream_msg_get_response" : "stream_msg_delete_response");
      auto req = parse_body(body, err);
      if (!req) return done(j, err);
      if (!typed(*req, {{"seq", kind::uint},
                        {"last_by_subj", kind::str},
                        {"next_by_subj", kind::str},
                        {"no_erase", kind::boolean}})) {
        return done(j, errors::invalid_json());
      }
      auto s = find_stream(name);
      if (!s) return done(j, errors::stream_not_found());
      if (is_empty_request(body)) return done(j, errors::bad_request());
      if (get) {
        std::uint64_t seq = req->value("seq", std::uint64_t{0});
        const std::string last = req->value("last_by_subj", std::string());
        const std::string next = req->value("next_by_subj", std::string());
        if ((seq == 0 && last.empty() && next.empty()) || (seq != 0 && !last.empty())) {
          return done(j, errors::bad_request());
        }
        if (!next.empty() && seq == 0) seq = 1;  // next_by_subj alone searches from the start
        auto m = s->get_message(seq, last, next);
        if (!m.ok()) return done(j, m.error());
        ojson msg;
        msg["subject"] = m.value().subject;
        msg["seq"] = m.value().seq.value;
        if (!m.value().headers.empty()) msg["hdrs"] = base64_encode(m.value().headers);
        if (!m.value().data.empty()) msg["data"] = base64_encode(m.value().data);
        msg["time"] = format_rfc3339(m.value().timestamp_ns);
        j["message"] = std::move(msg);
        return done(j, {});
      }
      const std::uint64_t seq = req->value("seq", std::uint64_t{0});
      const bool no_erase = req->value("no_erase", false);
      api_error e = seq == 0 ? errors::stream_msg_delete_failed("no message found") : s->delete_message(seq, !no_erase);
      if (e.ok()) j["success"] = true;
      return done(j, e);
    }
    if (t.size() != 3) return;
    const std::string name(t[2]);
    if (op == "CREATE" || op == "UPDATE") {
      const bool create = op == "CREATE";
      ojson j = response(create ? "stream_create_response" : "stream_update_response");
      if (body.empty()) return done(j, errors::invalid_json());
      auto req = parse_body(body, err);
      if (!req) return done(j, err);
      auto cfg = parse_stream_config(*req);
      if (!cfg.ok()) return done(j, cfg.error());
      if (cfg.value().name != name) return done(j, errors::stream_mismatch());
      if (create && name.find_first_of("/\\") != std::string::npos) {
        return done(j, {400, 10128, "Stream name can not contain path separators"});
      }
      if (create) {
        if (cfg.value().sealed) return done(j, errors::stream_invalid_config("stream configuration for create can not be sealed"));
        auto s = create_stream(cfg.value());
        if (!s.ok()) return done(j, s.error());
        merge(j, s.value()->info(false, ""));
        j["did_create"] = true;  // nats-server 2.9 says so for an identical re-create too
        return done(j, {});
      }
      auto s = find_stream(name);
      if (!s) return done(j, errors::stream_not_found());
      stream_config next = cfg.value();
      // nats-server 2.9 refuses replicas > 1 on create only; an update keeps the number (up to 5).
      const int replicas = next.num_replicas;
      if (replicas > 1 && replicas <= 5) next.num_replicas = 1;
      if (api_error e = normalize(next); !e.ok()) return done(j, e);
      if (replicas > 1 && replicas <= 5) next.num_replicas = replicas;
      for (auto& other : streams()) {
        if (other == s) continue;
        for (const std::string& a : next.subjects) {
          for (const std::string& b : other->config().subjects) {
            if (protocol::subjects_overlap(a, b)) return done(j, errors::subjects_overlap());
          }
        }
      }
      if (api_error e = s->update(next); !e.ok()) return done(j, e);
      merge(j, s->info(false, ""));
      return done(j, {});
    }
    if (op == "INFO") {
      ojson j = response("stream_info_response");
      auto fail = [&](const api_error& e) {
        set_error(j, e);
        j["total"] = 0;
        j["offset"] = 0;
        j["limit"] = 0;
        count_api(true);
        reply(w, to, j);
      };
      auto req = parse_body(body, err);
      if (req && !typed(*req, {{"deleted_details", kind::boolean}, {"subjects_filter", kind::str}})) {
        return fail(errors::invalid_json());
      }
      if (!req) return fail(err);
      auto s = find_stream(name);
      if (!s) return fail(errors::stream_not_found());
      ojson info = s->info(req->value("deleted_details", false), req->value("subjects_filter", std::string()));
      std::size_t subjects = 0;
      if (info["state"].contains("subjects")) subjects = info["state"]["subjects"].size();
      j["total"] = subjects;
      j["offset"] = 0;
      j["limit"] = subjects > 0 ? 100000 : 0;
      merge(j, info);
      return done(j, {});
    }
    if (op == "DELETE") {
      ojson j = response("stream_delete_response");
      if (!is_empty_request(body)) return done(j, errors::not_empty_request());
      api_error e = delete_stream(name);
      if (e.ok()) j["success"] = true;
      return done(j, e);
    }
    if (op == "PURGE") {
      ojson j = response("stream_purge_response");
      auto fail = [&](const api_error& e) {
        j["purged"] = 0;  // nats-server omits "success" when it is false
        return done(j, e);
      };
      auto req = parse_body(body, err);
      if (req && !typed(*req, {{"filter", kind::str}, {"seq", kind::uint}, {"keep", kind::uint}})) {
        return fail(errors::invalid_json());
      }
      if (!req) return fail(err);
      auto s = find_stream(name);
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
      return done(j, {});
    }
    return;
  }

  if (t[0] == "DIRECT" && t.size() >= 3 && t[1] == "GET") {
    auto s = find_stream(t[2]);
    if (!s || !s->config().allow_direct) return;  // not subscribed: no reply, as nats-server
    route_options o;
    o.clients_only = true;
    auto status_reply = [&](int code, const char* text) {
      host_.publish(w, to, {}, "NATS/1.0 " + std::to_string(code) + " " + text + "\r\n\r\n", {}, o, true);
    };
    std::uint64_t seq = 0;
    std::string last, next;
    if (t.size() > 3) {
      last = join(t, 3);
      if (!body.empty()) return status_reply(408, "Bad Request");
    } else {
      if (body.empty()) return status_reply(408, "Empty Request");
      api_error ignored;
      auto parsed = parse_body(body, ignored);
      if (!parsed || !typed(*parsed, {{"seq", kind::uint}, {"last_by_subj", kind::str}, {"next_by_subj", kind::str}})) {
        return status_reply(408, "Malformed Request");
      }
      const json& req = *parsed;
      if (is_empty_request(body)) return status_reply(408, "Empty Request");
      seq = req.value("seq", std::uint64_t{0});
      last = req.value("last_by_subj", std::string());
      next = req.value("next_by_subj", std::string());
      if ((seq == 0 && last.empty() && next.empty()) || (seq != 0 && !last.empty())) return status_reply(408, "Bad Request");
      if (!next.empty() && seq == 0) seq = 1;
    }
    auto m = s->get_message(seq, last, next);
    count_api(false);
    if (!m.ok()) return status_reply(404, "Message Not Found");
    protocol::header_builder hb;
    if (!m.value().headers.empty()) hb.add_block(m.value().headers);
    hb.add("Nats-Stream", s->name())
        .add("Nats-Subject", m.value().subject)
        .add("Nats-Sequence", std::to_string(m.value().seq.value))
        .add("Nats-Time-Stamp", format_rfc3339(m.value().timestamp_ns));
    host_.publish(w, to, {}, hb.finish(), m.value().data, o, true);
    return;
  }

  if (t[0] == "CONSUMER" && t.size() >= 3) {
    const std::string_view op = t[1];
    const bool durable_create = op == "DURABLE" && t.size() == 5 && t[2] == "CREATE";
    if (op == "CREATE" || durable_create) {
      ojson j = response("consumer_create_response");
      const std::string stream_name(durable_create ? t[3] : t[2]);
      std::string cname = durable_create ? std::string(t[4]) : (t.size() >= 4 ? std::string(t[3]) : std::string());
      const std::string filter = !durable_create && t.size() >= 5 ? join(t, 4) : std::string();
      // nats-server 2.9's order: the whole body is decoded first (an empty body is invalid JSON,
      // a missing config an empty one), then the names, the filter and the replicas are checked.
      if (body.empty()) return done(j, errors::invalid_json());
      auto req = parse_body(body, err);
      if (!req) return done(j, err);
      const auto cfg_it = req->find("config");
      auto cfg = parse_consumer_config(cfg_it != req->end() && !cfg_it->is_null() ? *cfg_it : json::object());
      if (!cfg.ok()) return done(j, cfg.error());
      std::string body_stream;
      if (auto it = req->find("stream_name"); it != req->end() && !it->is_null()) {
        if (!it->is_string()) return done(j, errors::invalid_json());
        body_stream = it->get<std::string>();
      }
      if (body_stream != stream_name) return done(j, errors::stream_mismatch());
      if (cname.find_first_of("/\\") != std::string::npos) {
        return done(j, {400, 10127, "Consumer name can not contain path separators"});
      }
      consumer_config& c = cfg.value();
      if (durable_create) {
        if (c.durable_name.empty()) return done(j, errors::consumer_durable_name_not_set());
        if (c.durable_name != cname) return done(j, errors::consumer_durable_name_mismatch());
      } else if (!cname.empty()) {
        if (!c.durable_name.empty() && c.durable_name != cname) return done(j, errors::consumer_durable_name_mismatch());
        c.name = cname;  // nats-server 2.9 silently takes the name from the subject
        if (t.size() >= 5 && c.filter_subject != filter) return done(j, errors::consumer_filter_subject_mismatch());
      } else if (!c.durable_name.empty()) {
        return done(j, errors::consumer_ephemeral_with_durable());
      }
      if (c.num_replicas > 1) return done(j, errors::replicas_not_supported());
      auto s = find_stream(stream_name);
      if (!s) return done(j, errors::stream_not_found());
      std::optional<ojson> info;
      api_error e;
      // nats-server 2.9 ignores "action" (create updates, update creates).
      auto r = s->add_consumer(c);
      if (!r.ok()) {
        e = r.error();
      } else {
        std::lock_guard lock(s->mutex());
        info = r.value()->initial_info();
      }
      s->run_deferred(w);
      if (!e.ok()) return done(j, e);
      merge(j, *info);
      return done(j, {});
    }
    if ((op == "NAMES" || op == "LIST") && t.size() == 3) {
      const bool names = op == "NAMES";
      ojson j = response(names ? "consumer_names_response" : "consumer_list_response");
      auto fail = [&](const api_error& e) {
        set_error(j, e);
        j["total"] = 0;
        j["offset"] = 0;
        j["limit"] = 0;
        j["consumers"] = ojson::array();
        count_api(true);
        reply(w, to, j);
      };
      auto req = parse_body(body, err);
      if (req && !typed(*req, {{"offset", kind::sint}})) return fail(errors::invalid_json());
      if (!req) return fail(err);
      auto s = find_stream(t[2]);
      if (!s) return fail(errors::stream_not_found());
      const std::int64_t offset = req->value("offset", std::int64_t{0});
      const std::size_t limit = names ? 1024 : 256;
      auto all = s->consumers();
      const std::size_t first = std::min<std::size_t>(static_cast<std::size_t>(std::max<std::int64_t>(offset, 0)), all.size());
      j["total"] = all.size();
      j["offset"] = first;
      j["limit"] = limit;
      ojson list = ojson::array();
      std::lock_guard lock(s->mutex());
      for (std::size_t i = first; i < all.size() && list.size() < limit; ++i) {
        if (names) {
          list.push_back(all[i]->name());
        } else {
          ojson info = all[i]->info();
          list.push_back(std::move(info));
        }
      }
      j["consumers"] = std::move(list);  // nats-server starts from an empty list: [] even for names
      return done(j, {});
    }
    if (t.size() < 4) return;
    const std::string stream_name(t[2]);
    const std::string cname(t[3]);
    if (op == "INFO" && t.size() == 4) {
      ojson j = response("consumer_info_response");
      if (!is_empty_request(body)) return done(j, errors::not_empty_request());
      auto s = find_stream(stream_name);
      if (!s) return done(j, errors::stream_not_found());
      std::lock_guard lock(s->mutex());
      auto c = s->find_consumer_locked(cname);
      if (!c) return done(j, errors::consumer_not_found());
      merge(j, c->info());
      return done(j, {});
    }
    if (op == "DELETE" && t.size() == 4) {
      ojson j = response("consumer_delete_response");
      if (!is_empty_request(body)) return done(j, errors::not_empty_request());
      auto s = find_stream(stream_name);
      if (!s) return done(j, errors::stream_not_found());
      api_error e = s->delete_consumer(cname);
      if (e.ok()) j["success"] = true;
      return done(j, e);
    }
    if (op == "MSG" && t.size() == 5 && t[2] == "NEXT") {
      auto s = find_stream(t[3]);
      std::shared_ptr<consumer> c;
      if (s) {
        std::lock_guard lock(s->mutex());
        c = s->find_consumer_locked(std::string(t[4]));
        if (c) c->on_pull_request(body, to, w);
      }
      if (!c) return;  // nats-server sends nothing for a missing stream or consumer
      s->run_deferred(w);
      return;
    }
  }
  // Anything else: no reply, as nats-server does for unknown API subjects.
}

}  // namespace ferry::broker::js
