#include "broker/js/config.h"

#include <algorithm>
#include <ctime>
#include <set>

#include "base/subject_check.h"
#include "protocol/subject.h"

namespace ferry::broker::js {

namespace {

using json = nlohmann::json;

// Field readers in the manner of Go's json.Unmarshal: absent or null keeps the default, a value
// of the wrong type fails the whole request.
struct reader {
  const json& j;
  std::string error;

  bool get(const char* k, std::string& out) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_string()) return fail(k, "string");
    out = it->get<std::string>();
    return true;
  }
  bool get(const char* k, bool& out) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_boolean()) return fail(k, "bool");
    out = it->get<bool>();
    return true;
  }
  bool get(const char* k, std::int64_t& out) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return true;
    if (it->is_number_integer()) {
      out = it->get<std::int64_t>();
      return true;
    }
    if (it->is_number_float()) {
      const double d = it->get<double>();
      if (d == static_cast<double>(static_cast<std::int64_t>(d))) {
        out = static_cast<std::int64_t>(d);
        return true;
      }
    }
    return fail(k, "int64");
  }
  bool get(const char* k, std::uint64_t& out) {
    std::int64_t v = static_cast<std::int64_t>(out);
    if (!get(k, v)) return false;
    if (v < 0) return fail(k, "uint64");
    out = static_cast<std::uint64_t>(v);
    return true;
  }
  bool get(const char* k, int& out) {
    std::int64_t v = out;
    if (!get(k, v)) return false;
    out = static_cast<int>(v);
    return true;
  }
  bool get(const char* k, std::vector<std::string>& out) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_array()) return fail(k, "[]string");
    out.clear();
    for (const auto& e : *it) {
      if (!e.is_string()) return fail(k, "[]string");
      out.push_back(e.get<std::string>());
    }
    return true;
  }
  bool get(const char* k, std::vector<std::int64_t>& out) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_array()) return fail(k, "[]time.Duration");
    out.clear();
    for (const auto& e : *it) {
      if (!e.is_number_integer()) return fail(k, "[]time.Duration");
      out.push_back(e.get<std::int64_t>());
    }
    return true;
  }
  template <class E>
  bool get_enum(const char* k, E& out, std::initializer_list<std::pair<const char*, E>> names) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_string()) return fail(k, "string");
    const std::string v = it->get<std::string>();
    for (const auto& [n, e] : names) {
      if (v == n) {
        out = e;
        return true;
      }
    }
    error = std::string("can not unmarshal \"") + v + "\" into " + k;
    return false;
  }
  bool fail(const char* k, const char* type) {
    error = std::string("json: cannot unmarshal ") + j[k].type_name() + " into Go struct field ." + k + " of type " + type;
    return false;
  }
};

const char* name_of(retention_policy r) {
  switch (r) {
    case retention_policy::limits: return "limits";
    case retention_policy::interest: return "interest";
    case retention_policy::workqueue: return "workqueue";
  }
  return "limits";
}
const char* name_of(storage_type s) { return s == storage_type::memory ? "memory" : "file"; }
const char* name_of(discard_policy d) { return d == discard_policy::new_ ? "new" : "old"; }
const char* name_of(deliver_policy d) {
  switch (d) {
    case deliver_policy::all: return "all";
    case deliver_policy::last: return "last";
    case deliver_policy::new_: return "new";
    case deliver_policy::by_start_sequence: return "by_start_sequence";
    case deliver_policy::by_start_time: return "by_start_time";
    case deliver_policy::last_per_subject: return "last_per_subject";
  }
  return "all";
}
const char* name_of(ack_policy a) {
  switch (a) {
    case ack_policy::none: return "none";
    case ack_policy::all: return "all";
    case ack_policy::explicit_: return "explicit";
  }
  return "explicit";
}
const char* name_of(replay_policy r) { return r == replay_policy::original ? "original" : "instant"; }

}  // namespace

bool is_valid_name(std::string_view name) { return ferry::is_valid_name(name); }

api_result<stream_config> parse_stream_config(const json& j) {
  if (!j.is_object()) return errors::invalid_json();
  stream_config c;
  reader r{j, {}};
  bool ok = r.get("name", c.name) && r.get("description", c.description) && r.get("subjects", c.subjects) &&
            r.get_enum("retention", c.retention,
                       {{"limits", retention_policy::limits},
                        {"interest", retention_policy::interest},
                        {"workqueue", retention_policy::workqueue}}) &&
            r.get("max_consumers", c.max_consumers) && r.get("max_msgs", c.max_msgs) &&
            r.get("max_bytes", c.max_bytes) && r.get("max_age", c.max_age) &&
            r.get("max_msgs_per_subject", c.max_msgs_per_subject) && r.get("max_msg_size", c.max_msg_size) &&
            r.get_enum("discard", c.discard, {{"old", discard_policy::old}, {"new", discard_policy::new_}}) &&
            r.get_enum("storage", c.storage, {{"file", storage_type::file}, {"memory", storage_type::memory}}) &&
            r.get("num_replicas", c.num_replicas) && r.get("no_ack", c.no_ack) &&
            r.get("duplicate_window", c.duplicate_window) && r.get("allow_direct", c.allow_direct) &&
            r.get("mirror_direct", c.mirror_direct) && r.get("discard_new_per_subject", c.discard_new_per_subject) &&
            r.get("sealed", c.sealed) && r.get("deny_delete", c.deny_delete) && r.get("deny_purge", c.deny_purge) &&
            r.get("allow_rollup_hdrs", c.allow_rollup_hdrs) && r.get("dead_letter_stream", c.dead_letter_stream);
  if (!ok) return errors::invalid_json();
  if (auto it = j.find("republish"); it != j.end() && it->is_object()) {
    republish_config rp;
    reader rr{*it, {}};
    if (!(rr.get("src", rp.src) && rr.get("dest", rp.dest) && rr.get("headers_only", rp.headers_only)))
      return errors::invalid_json();
    c.republish = rp;
  }
  for (const char* unsupported : {"mirror", "sources", "placement", "subject_transform"}) {
    auto it = j.find(unsupported);
    if (it != j.end() && !it->is_null() && !(it->is_array() && it->empty()))
      return errors::not_supported(std::string("stream \"") + unsupported + "\"");
  }
  return c;
}

api_error normalize(stream_config& c) {
  bool name_ok = !c.name.empty();  // the characters first (in 255-byte pieces), then the length
  for (std::size_t i = 0; name_ok && i < c.name.size(); i += 255) {
    name_ok = is_valid_name(std::string_view(c.name).substr(i, 255));
  }
  if (!name_ok) {
    return errors::stream_invalid_config("stream name is required and can not contain '.', '*', '>'");
  }
  if (c.name.size() > 255) return errors::stream_invalid_config("stream name is too long, maximum allowed is 255");
  if (c.description.size() > 4096) {
    return errors::stream_invalid_config("stream description is too long, maximum allowed is 4096");
  }
  if (c.num_replicas == 0) c.num_replicas = 1;
  if (c.num_replicas > 5) return errors::stream_invalid_config("maximum replicas is 5");
  if (c.num_replicas < 0) return errors::replicas_negative();
  if (c.num_replicas > 1) return errors::replicas_not_supported();
  if (c.max_msgs == 0) c.max_msgs = -1;
  if (c.max_msgs_per_subject == 0) c.max_msgs_per_subject = -1;
  if (c.max_bytes == 0) c.max_bytes = -1;
  if (c.max_msg_size == 0) c.max_msg_size = -1;
  if (c.max_consumers == 0) c.max_consumers = -1;
  constexpr std::int64_t default_window = 120 * second;
  if (c.duplicate_window == 0) {
    c.duplicate_window = c.max_age != 0 && c.max_age < default_window ? c.max_age : default_window;
  }
  if (c.max_age > 0 && c.max_age < second / 10) return errors::stream_invalid_config("max age needs to be >= 100ms");
  if (c.duplicate_window < 0) return errors::stream_invalid_config("duplicates window can not be negative");
  if (c.max_age != 0 && c.duplicate_window > c.max_age) {
    return errors::stream_invalid_config("duplicates window can not be larger then max age");
  }
  if (c.deny_purge && c.allow_rollup_hdrs) return errors::stream_invalid_config("roll-ups require the purge permission");
  if (c.discard_new_per_subject) {
    if (c.discard != discard_policy::new_) {
      return errors::stream_invalid_config("discard new per subject requires discard new policy to be set");
    }
    if (c.max_msgs_per_subject <= 0) {
      return errors::stream_invalid_config("discard new per subject requires max msgs per subject > 0");
    }
  }
  if (c.subjects.empty()) c.subjects.push_back(c.name);
  std::set<std::string> seen;
  for (const std::string& s : c.subjects) {
    if (!seen.insert(s).second) return errors::stream_invalid_config("duplicate subjects detected");
    for (const std::string& other : c.subjects) {
      if (&other != &s && protocol::subject_is_subset(s, other) && s != other) {
        return errors::stream_invalid_config("subject \"" + s + "\" overlaps with \"" + other + "\"");
      }
    }
    if (protocol::subject_is_subset(s, "$JS.API.>")) {
      return errors::stream_invalid_config("subjects overlap with jetstream api");
    }
    if (!protocol::is_valid_subject(s)) return errors::stream_invalid_config("invalid subject");
  }
  if (c.republish && !protocol::is_valid_subject(c.republish->dest)) {
    return errors::stream_invalid_config("stream republish destination is not valid");
  }
  if (!c.dead_letter_stream.empty() && !is_valid_name(c.dead_letter_stream)) {
    return errors::stream_invalid_config("dead_letter_stream is not a valid stream name");
  }
  return {};
}

ojson to_json(const stream_config& c) {
  ojson j;
  j["name"] = c.name;
  if (!c.description.empty()) j["description"] = c.description;
  if (!c.subjects.empty()) j["subjects"] = c.subjects;
  j["retention"] = name_of(c.retention);
  j["max_consumers"] = c.max_consumers;
  j["max_msgs"] = c.max_msgs;
  j["max_bytes"] = c.max_bytes;
  j["max_age"] = c.max_age;
  j["max_msgs_per_subject"] = c.max_msgs_per_subject;
  if (c.max_msg_size != 0) j["max_msg_size"] = c.max_msg_size;
  j["discard"] = name_of(c.discard);
  j["storage"] = name_of(c.storage);
  j["num_replicas"] = c.num_replicas;
  if (c.no_ack) j["no_ack"] = true;
  if (c.duplicate_window != 0) j["duplicate_window"] = c.duplicate_window;
  if (c.republish) {
    ojson r;
    r["src"] = c.republish->src;
    r["dest"] = c.republish->dest;
    if (c.republish->headers_only) r["headers_only"] = true;
    j["republish"] = std::move(r);
  }
  j["allow_direct"] = c.allow_direct;
  j["mirror_direct"] = c.mirror_direct;
  if (c.discard_new_per_subject) j["discard_new_per_subject"] = true;
  j["sealed"] = c.sealed;
  j["deny_delete"] = c.deny_delete;
  j["deny_purge"] = c.deny_purge;
  j["allow_rollup_hdrs"] = c.allow_rollup_hdrs;
  if (!c.dead_letter_stream.empty()) j["dead_letter_stream"] = c.dead_letter_stream;
  return j;
}

api_result<consumer_config> parse_consumer_config(const json& j) {
  if (!j.is_object()) return errors::invalid_json();
  consumer_config c;
  reader r{j, {}};
  std::string start_time;
  bool ok =
      r.get("durable_name", c.durable_name) && r.get("name", c.name) && r.get("description", c.description) &&
      r.get_enum("deliver_policy", c.deliver,
                 {{"all", deliver_policy::all},
                  {"undefined", deliver_policy::all},
                  {"last", deliver_policy::last},
                  {"new", deliver_policy::new_},
                  {"by_start_sequence", deliver_policy::by_start_sequence},
                  {"by_start_time", deliver_policy::by_start_time},
                  {"last_per_subject", deliver_policy::last_per_subject}}) &&
      r.get("opt_start_seq", c.opt_start_seq) && r.get("opt_start_time", start_time) &&
      r.get_enum("ack_policy", c.ack,
                 {{"none", ack_policy::none}, {"all", ack_policy::all}, {"explicit", ack_policy::explicit_}}) &&
      r.get("ack_wait", c.ack_wait) && r.get("max_deliver", c.max_deliver) && r.get("backoff", c.backoff) &&
      r.get("filter_subject", c.filter_subject) &&
      r.get_enum("replay_policy", c.replay,
                 {{"instant", replay_policy::instant}, {"original", replay_policy::original}}) &&
      r.get("rate_limit_bps", c.rate_limit_bps) && r.get("sample_freq", c.sample_freq) &&
      r.get("max_waiting", c.max_waiting) && r.get("max_ack_pending", c.max_ack_pending) &&
      r.get("idle_heartbeat", c.idle_heartbeat) && r.get("flow_control", c.flow_control) &&
      r.get("headers_only", c.headers_only) && r.get("max_batch", c.max_batch) &&
      r.get("max_expires", c.max_expires) && r.get("max_bytes", c.max_bytes) &&
      r.get("deliver_subject", c.deliver_subject) && r.get("deliver_group", c.deliver_group) &&
      r.get("inactive_threshold", c.inactive_threshold) && r.get("num_replicas", c.num_replicas) &&
      r.get("mem_storage", c.mem_storage) && r.get("direct", c.direct) &&
      r.get("dead_letter_stream", c.dead_letter_stream);
  if (!ok) return errors::invalid_json();
  if (!start_time.empty()) {
    auto t = parse_rfc3339_ns(start_time);
    if (!t) return errors::invalid_json();
    c.opt_start_time_ns = *t;
  }
  if (auto it = j.find("filter_subjects"); it != j.end() && it->is_array() && !it->empty()) {
    if (it->size() == 1 && (*it)[0].is_string() && c.filter_subject.empty()) {
      c.filter_subject = (*it)[0].get<std::string>();
    } else {
      return errors::not_supported("consumer \"filter_subjects\" with more than one subject");
    }
  }
  return c;
}

namespace {

// nats-server's defaults for what the request left unset.
void set_consumer_defaults(consumer_config& c) {
  const bool acks = c.ack == ack_policy::explicit_ || c.ack == ack_policy::all;
  if (c.deliver_subject.empty() && c.max_waiting == 0) c.max_waiting = 512;
  if (c.ack_wait == 0 && acks) c.ack_wait = 30 * second;
  if (c.max_deliver == 0) c.max_deliver = -1;
  if (!c.backoff.empty()) c.ack_wait = c.backoff[0];
  if (acks && c.max_ack_pending == 0) c.max_ack_pending = 1000;
  if (c.durable_name.empty() && c.inactive_threshold == 0) c.inactive_threshold = 5 * second;
}

// The checks for one kind of consumer: push (a deliver subject) or pull.
api_error check_push_or_pull(const consumer_config& c, const stream_config& stream) {
  if (!c.deliver_subject.empty()) {
    if (protocol::has_wildcard(c.deliver_subject)) return errors::consumer_deliver_to_wildcards();
    if (!protocol::is_valid_subject(c.deliver_subject)) return errors::consumer_invalid_deliver_subject();
    for (const std::string& s : stream.subjects) {
      if (protocol::subject_matches(s, c.deliver_subject)) return errors::consumer_deliver_cycle();
    }
    if (c.max_waiting != 0) return errors::consumer_push_max_waiting();
    // Only push consumers are checked for this (a pull consumer with ack none keeps max_ack_pending).
    if (c.max_ack_pending > 0 && c.ack == ack_policy::none) return errors::consumer_max_pending_ack_policy();
    if (c.idle_heartbeat > 0 && c.idle_heartbeat < second / 10) return errors::consumer_small_heartbeat();
  } else {
    if (c.ack == ack_policy::none && stream.retention == retention_policy::workqueue) {
      return errors::consumer_pull_requires_ack();
    }
    if (c.rate_limit_bps > 0) return errors::consumer_pull_with_rate_limit();
    if (c.max_waiting < 0) return errors::consumer_max_waiting_negative();
    if (c.idle_heartbeat > 0) return errors::consumer_hb_requires_push();
    if (c.flow_control) return errors::consumer_fc_requires_push();
    if (c.max_batch < 0) return errors::consumer_max_request_batch_negative();
    if (c.max_expires != 0 && c.max_expires < second / 1000) {
      return errors::consumer_max_request_expires_too_small();
    }
  }
  return {};
}

// The deliver policy against the optional start sequence and start time.
api_error check_start_position(const consumer_config& c) {
  const bool has_seq = c.opt_start_seq > 0;
  const bool has_time = c.opt_start_time_ns.has_value();
  auto conflict = [](const char* policy, const char* what) {
    return errors::consumer_invalid_policy(std::string("consumer delivery policy is ") + policy + ", but optional start " +
                                           what);
  };
  switch (c.deliver) {
    case deliver_policy::all:
      if (has_seq) return conflict("deliver all", "sequence is also set");
      if (has_time) return conflict("deliver all", "time is also set");
      break;
    case deliver_policy::last:
      if (has_seq) return conflict("deliver last", "sequence is also set");
      if (has_time) return conflict("deliver last", "time is also set");
      break;
    case deliver_policy::last_per_subject:
      if (has_seq) return conflict("deliver last per subject", "sequence is also set");
      if (has_time) return conflict("deliver last per subject", "time is also set");
      if (c.filter_subject.empty()) {  // nats-server 2.9 wants a filter here
        return errors::consumer_invalid_policy(
            "consumer delivery policy is deliver last per subject, but optional filter subject is not set");
      }
      break;
    case deliver_policy::new_:
      if (has_seq) return conflict("deliver new", "sequence is also set");
      if (has_time) return conflict("deliver new", "time is also set");
      break;
    case deliver_policy::by_start_sequence:
      if (!has_seq) return conflict("deliver by start sequence", "sequence is not set");
      if (has_time) return conflict("deliver by start sequence", "time is also set");
      break;
    case deliver_policy::by_start_time:
      if (!has_time) return conflict("deliver by start time", "time is not set");
      if (has_seq) return conflict("deliver by start time", "start sequence is also set");  // sic: "start start"
      break;
  }
  return {};
}

}  // namespace

api_error normalize(consumer_config& c, const stream_config& stream) {
  set_consumer_defaults(c);
  // The checks below follow nats-server 2.9's checkConsumerCfg, in its order.
  if (c.num_replicas > 0 && c.num_replicas > stream.num_replicas) {
    return errors::consumer_replicas_exceed_stream();
  }
  if (c.num_replicas < 0) return errors::replicas_negative();
  // max_deliver is already -1 when unset, which is <= any backoff length: nats-server refuses that too.
  if (!c.backoff.empty() && c.max_deliver <= static_cast<std::int64_t>(c.backoff.size())) {
    return errors::consumer_max_deliver_backoff();
  }
  if (c.description.size() > 4096) return errors::consumer_description_too_long();
  if (api_error e = check_push_or_pull(c, stream); !e.ok()) return e;
  if (!c.filter_subject.empty()) {
    bool subset = false;
    for (const std::string& s : stream.subjects) {
      if (protocol::subjects_overlap(s, c.filter_subject)) subset = true;
    }
    if (!subset || !protocol::is_valid_subject(c.filter_subject)) return errors::consumer_filter_not_subset();
  }
  if (api_error e = check_start_position(c); !e.ok()) return e;
  if (!c.sample_freq.empty()) {
    std::string f = c.sample_freq;
    if (f.back() == '%') f.pop_back();
    const bool digits = !f.empty() && std::all_of(f.begin(), f.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!digits) {
      return errors::consumer_invalid_sampling(f);
    }
  }
  if (c.flow_control && c.idle_heartbeat == 0) return errors::consumer_fc_needs_heartbeats();
  if (!c.durable_name.empty() && !c.name.empty() && c.name != c.durable_name) {
    return errors::consumer_durable_and_name_mismatch();
  }
  if (!c.durable_name.empty() && !is_valid_name(c.durable_name)) return errors::consumer_bad_durable_name();
  if (!c.name.empty() && !is_valid_name(c.name)) return errors::consumer_bad_durable_name();
  if (stream.retention == retention_policy::workqueue && !c.direct) {
    if (c.ack != ack_policy::explicit_) return errors::consumer_wq_requires_explicit_ack();
    if (c.deliver != deliver_policy::all) return errors::consumer_wq_not_deliver_all();
  }
  if (!c.dead_letter_stream.empty() && !is_valid_name(c.dead_letter_stream)) {
    return errors::consumer_create("dead_letter_stream is not a valid stream name");
  }
  return {};
}

ojson to_json(const consumer_config& c) {
  ojson j;
  if (!c.durable_name.empty()) j["durable_name"] = c.durable_name;
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.description.empty()) j["description"] = c.description;
  j["deliver_policy"] = name_of(c.deliver);
  if (c.opt_start_seq != 0) j["opt_start_seq"] = c.opt_start_seq;
  if (c.opt_start_time_ns) j["opt_start_time"] = format_rfc3339(*c.opt_start_time_ns);
  j["ack_policy"] = name_of(c.ack);
  if (c.ack_wait != 0) j["ack_wait"] = c.ack_wait;
  if (c.max_deliver != 0) j["max_deliver"] = c.max_deliver;
  if (!c.backoff.empty()) j["backoff"] = c.backoff;
  if (!c.filter_subject.empty()) j["filter_subject"] = c.filter_subject;
  j["replay_policy"] = name_of(c.replay);
  if (c.rate_limit_bps != 0) j["rate_limit_bps"] = c.rate_limit_bps;
  if (!c.sample_freq.empty()) j["sample_freq"] = c.sample_freq;
  if (c.max_waiting != 0) j["max_waiting"] = c.max_waiting;
  if (c.max_ack_pending != 0) j["max_ack_pending"] = c.max_ack_pending;
  if (c.idle_heartbeat != 0) j["idle_heartbeat"] = c.idle_heartbeat;
  if (c.flow_control) j["flow_control"] = true;
  if (c.headers_only) j["headers_only"] = true;
  if (c.max_batch != 0) j["max_batch"] = c.max_batch;
  if (c.max_expires != 0) j["max_expires"] = c.max_expires;
  if (c.max_bytes != 0) j["max_bytes"] = c.max_bytes;
  if (!c.deliver_subject.empty()) j["deliver_subject"] = c.deliver_subject;
  if (!c.deliver_group.empty()) j["deliver_group"] = c.deliver_group;
  if (c.inactive_threshold != 0) j["inactive_threshold"] = c.inactive_threshold;
  j["num_replicas"] = c.num_replicas;
  if (c.mem_storage) j["mem_storage"] = true;
  if (c.direct) j["direct"] = true;
  if (!c.dead_letter_stream.empty()) j["dead_letter_stream"] = c.dead_letter_stream;
  return j;
}

}  // namespace ferry::broker::js
