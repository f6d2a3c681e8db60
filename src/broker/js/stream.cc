#include "broker/js/stream.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <random>

#include "base/number.h"
#include "broker/js/consumer.h"
#include "broker/js/jetstream.h"
#include "protocol/go_json.h"
#include "protocol/headers.h"
#include "protocol/subject.h"

namespace ferry::broker::js {

namespace {

// A sequence in an expectation header (trailing blanks allowed, as nats-server's parse).
std::optional<std::uint64_t> header_seq(std::string_view s) {
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  auto n = parse_uint(s, "sequence");
  return n.is_ok() ? std::optional<std::uint64_t>(*n) : std::nullopt;
}

// A publish acknowledgement, byte for byte as nats-server's template writes it.
std::string pub_ack(const std::string& stream, std::uint64_t seq, bool duplicate) {
  std::string s = "{\"stream\":" + protocol::go_json_string(stream) + ", \"seq\":" + std::to_string(seq);
  if (duplicate) s += ",\"duplicate\": true";
  return s + "}";
}

std::string pub_error(const std::string& stream, const api_error& e) {
  return "{\"error\":{\"code\":" + std::to_string(e.code) + ",\"err_code\":" + std::to_string(e.err_code) +
         ",\"description\":" + protocol::go_json_string(e.description) +
         "},\"stream\":" + protocol::go_json_string(stream) + ",\"seq\":0}";
}

}  // namespace

stream::stream(jetstream& js, stream_config cfg, std::unique_ptr<store::message_store> st, std::int64_t created_ns,
               std::string dir)
    : js_(js),
      name_(cfg.name),
      dir_(std::move(dir)),
      created_ns_(created_ns),
      cfg_(std::move(cfg)),
      store_(std::move(st)) {}

stream::~stream() = default;

stream_config stream::config() const {
  std::lock_guard lock(mu_);
  return cfg_;
}

void stream::attach() {
  std::weak_ptr<stream> weak = shared_from_this();
  for (const std::string& subject : cfg_.subjects) {
    subs_.push_back(js_.subscribe(subject, [weak](const protocol::pub_frame& f, worker* w) {
      if (auto s = weak.lock()) s->on_publish(f, w);
      return true;
    }));
  }
}

void stream::detach() {
  for (auto& s : subs_) js_.unsubscribe(s);
  subs_.clear();
}

void stream::rebuild_dedup(std::int64_t now_ns) {
  std::lock_guard lock(mu_);
  const store::store_state st = store_->state();
  if (st.msgs == 0 || cfg_.duplicate_window <= 0) return;
  const std::int64_t since = now_ns - cfg_.duplicate_window;
  // Timestamps grow with sequences: find the first message inside the window by bisection,
  // then scan forward from there.
  std::uint64_t lo = st.first_seq.value;
  std::uint64_t hi = st.last_seq.value + 1;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    auto m = store_->load_next(store::stream_seq{mid}, {});
    if (!m.is_ok() || m->timestamp_ns >= since) {
      hi = mid;
    } else {
      lo = m->seq.value + 1;
    }
  }
  for (std::uint64_t seq = lo; seq <= st.last_seq.value;) {
    auto m = store_->load_next(store::stream_seq{seq}, {});
    if (!m.is_ok()) break;
    seq = m->seq.value + 1;
    if (m->headers.empty()) continue;
    auto id = protocol::find_header(m->headers, "Nats-Msg-Id");
    if (!id || id->empty()) continue;
    std::string key(*id);
    dedup_[key] = {m->seq.value, m->timestamp_ns};
    dedup_order_.emplace_back(m->timestamp_ns, key);
    if (m->seq == st.last_seq) last_msg_id_ = std::move(key);
  }
}

void stream::on_publish(const protocol::pub_frame& f, worker* from) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    handle_publish_locked(f, from);
  }
  run_deferred(from);
}

void stream::reply_locked(worker* from, std::string_view reply, std::string body, std::uint64_t seq) {
  if (!reply.empty()) pending_acks_.push_back({std::string(reply), std::move(body), seq});
  request_round_locked(from);
}

void stream::request_round_locked(worker* w) {
  if (w == nullptr) {
    finish_round_locked(nullptr);  // off the workers (internal publishes, timers): now
    return;
  }
  if (round_scheduled_) return;
  round_scheduled_ = true;
  js_.server().at_round_end(*w, shared_from_this());
}

void stream::run(worker& w) {
  std::lock_guard lock(mu_);
  round_scheduled_ = false;
  finish_round_locked(&w);
}

void stream::finish_round_locked(worker* w) {
  // Acknowledgement logs first: an ack confirmed this round must survive kill -9.
  for (auto& [name, c] : consumers_) c->flush_log(w);
  (void)write_appends_locked(w);  // a failure turned the refused acknowledgements into errors
  if (pending_acks_.empty()) return;
  std::vector<pending_ack> acks;
  acks.swap(pending_acks_);
  auto self = shared_from_this();
  store_->flush_then([self, w, acks = std::move(acks)](status st) mutable {
    if (!st.is_ok()) {
      spdlog::error("stream {}: storing failed: {}", self->name_, st.message());
      for (auto& a : acks) a.body = pub_error(self->name_, errors::store_failure(st));
    }
    // With sync always this runs on the store's sync thread, where `w` is not current.
    self->send_pending_acks(w != nullptr && self->js_.server().current_worker() == w ? w : nullptr, acks);
  });
}

status stream::write_appends_locked(worker* w) {
  if (unwritten_from_ == 0) return status::ok();
  unwritten_from_ = 0;
  status s = store_->write();
  // The store discarded what it could not write: everything after its last sequence now.
  if (!s.is_ok()) refused_locked(store_->state().last_seq.value + 1, s);
  // What was held back is readable now (or gone, which the consumers find out for themselves).
  for (auto& [name, c] : consumers_) c->on_written(w);
  return s;
}

void stream::refused_locked(std::uint64_t from, const status& why) {
  spdlog::error("stream {}: writing to the store failed, messages from sequence {} on refused: {}", name_, from,
                why.message());
  const std::string error = pub_error(name_, errors::store_failure(why));
  for (pending_ack& a : pending_acks_) {
    if (a.seq >= from) a.body = error;
  }
  for (auto it = dedup_.begin(); it != dedup_.end();) {
    if (it->second.first >= from) {
      if (it->first == last_msg_id_) last_msg_id_.clear();
      it = dedup_.erase(it);  // its dedup_order_ entry no longer matches and is skipped
    } else {
      ++it;
    }
  }
  for (auto& [name, c] : consumers_) c->on_removed();
}

void stream::send_pending_acks(worker* w, std::vector<pending_ack>& acks) {
  route_options o;
  o.clients_only = true;
  for (const auto& a : acks) js_.server().publish(w, a.reply, {}, {}, a.body, o, /*empty_reply_field=*/true);
}

void stream::prune_dedup_locked(std::int64_t now_ns) {
  while (!dedup_order_.empty() && dedup_order_.front().first + cfg_.duplicate_window <= now_ns) {
    auto it = dedup_.find(dedup_order_.front().second);
    if (it != dedup_.end() && it->second.second == dedup_order_.front().first) dedup_.erase(it);
    dedup_order_.pop_front();
  }
}

bool stream::interest_in_locked(std::string_view subject) const {
  for (const auto& [n, c] : consumers_) {
    if (c->matches(subject)) return true;
  }
  return false;
}

void stream::handle_publish_locked(const protocol::pub_frame& f, worker* from) {
  const std::int64_t now = js_.wall_ns();
  const std::string_view hdr = f.data.substr(0, f.header_size);
  const std::string_view data = f.data.substr(f.header_size);
  // A no_ack stream answers nothing, not even errors (nats-server: canRespond = !NoAck && reply != "").
  const std::string_view reply = cfg_.no_ack ? std::string_view() : std::string_view(f.reply);
  auto fail = [&](const api_error& e) { reply_locked(from, reply, pub_error(name_, e)); };
  if (cfg_.sealed) return fail(errors::stream_sealed());
  if (hdr.size() > 65535) return fail(errors::header_too_large());
  if (cfg_.max_msg_size >= 0 && static_cast<std::int64_t>(hdr.size() + data.size()) > cfg_.max_msg_size) {
    return fail(errors::message_too_large());
  }
  std::optional<std::string_view> msg_id;
  if (!hdr.empty()) {
    // nats-server 2.9 checks the expected stream before the duplicate window.
    if (auto v = protocol::find_header(hdr, "Nats-Expected-Stream"); v && *v != name_) {
      return fail(errors::stream_not_match());
    }
    msg_id = protocol::find_header(hdr, "Nats-Msg-Id");
    if (msg_id && msg_id->empty()) msg_id.reset();
    if (msg_id) {
      prune_dedup_locked(now);
      auto it = dedup_.find(std::string(*msg_id));
      if (it != dedup_.end()) {
        reply_locked(from, reply, pub_ack(name_, it->second.first, true), it->second.first);
        return;
      }
    }
    const store::store_state st = store_->state();
    if (auto v = protocol::find_header(hdr, "Nats-Expected-Last-Sequence")) {
      auto n = header_seq(*v);
      if (!n || *n != st.last_seq.value) return fail(errors::stream_wrong_last_sequence(st.last_seq.value));
    }
    if (auto v = protocol::find_header(hdr, "Nats-Expected-Last-Msg-Id"); v && *v != last_msg_id_) {
      return fail(errors::stream_wrong_last_msg_id(last_msg_id_));
    }
    if (auto v = protocol::find_header(hdr, "Nats-Expected-Last-Subject-Sequence")) {
      auto n = header_seq(*v);
      const std::uint64_t actual = store_->last_seq_of(f.subject);
      if (!n || *n != actual) return fail(errors::stream_wrong_last_sequence(actual));
    }
  }
  std::optional<std::string_view> rollup;
  if (!hdr.empty()) {
    rollup = protocol::find_header(hdr, "Nats-Rollup");
    if (rollup) {
      if (!cfg_.allow_rollup_hdrs) return fail(errors::stream_rollup_failed("rollup not permitted"));
      // nats-server drops a message with an unknown rollup value without a reply.
      if (*rollup != "sub" && *rollup != "all") return;
    }
  }
  result<store::stream_seq> seq = store_->append(f.subject, hdr, data, now);
  if (!seq.is_ok()) {
    if (seq.status().code() == status_code::invalid_argument) return fail(errors::message_too_large());
    return fail(errors::store_failure(seq.status()));
  }
  const std::uint64_t n = seq->value;
  if (unwritten_from_ == 0) unwritten_from_ = n;
  // Nats-Expected-Last-Msg-Id compares with the id of the last stored message (none: "").
  last_msg_id_.clear();
  if (msg_id) {
    std::string id(*msg_id);
    dedup_[id] = {n, now};
    dedup_order_.emplace_back(now, id);
    last_msg_id_ = std::move(id);
  }
  if (rollup) {
    store::purge_request req;
    if (*rollup == "sub") req.filter = std::string(f.subject);
    req.up_to = store::stream_seq{n};
    req.flush_follows = true;  // this publish's: no fdatasync on the worker
    if (auto purged = store_->purge(req); !purged.is_ok()) {
      // The rollup message is stored and acknowledged; what it should have replaced stays.
      spdlog::error("stream {}: rollup at sequence {} could not purge: {}", name_, n, purged.status().message());
    }
    for (auto& [name, c] : consumers_) c->on_removed();
  }
  reply_locked(from, reply, pub_ack(name_, n, false), n);
  if (cfg_.republish && protocol::subject_matches(cfg_.republish->src.empty() ? ">" : cfg_.republish->src, f.subject)) {
    protocol::header_builder hb;
    if (!hdr.empty()) hb.add_block(hdr);
    hb.add("Nats-Stream", name_).add("Nats-Subject", f.subject).add("Nats-Sequence", std::to_string(n));
    hb.add("Nats-Time-Stamp", format_rfc3339(now));
    if (cfg_.republish->headers_only) hb.add("Nats-Msg-Size", std::to_string(data.size()));
    deferred_.push_back(
        {cfg_.republish->dest, {}, hb.finish(), cfg_.republish->headers_only ? std::string() : std::string(data), {}});
  }
  if (cfg_.retention == retention_policy::interest && !interest_in_locked(f.subject)) {
    // Interest retention keeps a message only for the consumers that want it: none does.
    remove_unneeded_locked(n);
    return;
  }
  notify_consumers_locked(n, f.subject, from);
}

void stream::notify_consumers_locked(std::uint64_t seq, std::string_view subject, worker* from) {
  for (auto& [name, c] : consumers_) {
    if (c->matches(subject)) c->on_message(seq, subject, from);
  }
}

api_result<std::uint64_t> stream::store_message(std::string_view subject, std::string_view headers,
                                                std::string_view data) {
  std::lock_guard lock(mu_);
  if (closed_) return errors::stream_not_found();
  result<store::stream_seq> seq = store_->append(subject, headers, data, js_.wall_ns());
  if (!seq.is_ok()) return errors::store_failure(seq.status());
  if (unwritten_from_ == 0) unwritten_from_ = seq->value;
  notify_consumers_locked(seq->value, subject, js_.server().current_worker());
  // Written now, so the caller learns whether it was kept.
  if (status s = write_appends_locked(js_.server().current_worker()); !s.is_ok() && store_->state().last_seq < *seq) {
    return errors::store_failure(s);
  }
  // With publishes of this round still to be confirmed, the round's own flush makes this message
  // durable too. A flush here would take the round's bytes written above as its own, and a failed
  // sync of them would reach only this flush's callback, which tells no one (store/syncer.h).
  if (pending_acks_.empty()) store_->flush_then([](status) {});
  return seq->value;
}

void stream::apply_retention_locked(std::uint64_t seq) {
  if (cfg_.retention == retention_policy::limits) return;
  auto m = store_->load(store::stream_seq{seq});
  if (!m.is_ok()) return;
  for (const auto& [name, c] : consumers_) {
    if (c->needs(seq, m->subject)) return;
  }
  remove_unneeded_locked(seq);
}

void stream::remove_unneeded_locked(std::uint64_t seq) {
  // A failure keeps a message nobody needs: disk space, never a loss, so a warning.
  if (status s = store_->remove(store::stream_seq{seq}, false); !s.is_ok() && s.code() != status_code::not_found) {
    spdlog::warn("stream {}: removing sequence {} (no consumer needs it) failed: {}", name_, seq, s.message());
  }
}

void stream::run_deferred(worker* w) {
  std::vector<deferred_publish> work;
  {
    std::lock_guard lock(mu_);
    work.swap(deferred_);
  }
  for (auto& d : work) {
    if (!d.to_stream.empty()) {
      auto target = js_.find_stream(d.to_stream);
      if (!target) {
        spdlog::warn("stream {}: dead-letter stream {} does not exist; message dropped", name_, d.to_stream);
        continue;
      }
      auto r = target->store_message(d.subject, d.headers, d.data);
      if (!r.ok()) spdlog::warn("stream {}: dead letter into {} failed: {}", name_, d.to_stream, r.error().description);
      continue;
    }
    js_.server().publish(w, d.subject, d.reply, d.headers, d.data, {}, d.empty_reply_field);
  }
}

ojson stream::info(bool deleted_details, const std::string& subjects_filter) {
  std::lock_guard lock(mu_);
  const store::store_state st = store_->state();
  ojson j;
  j["config"] = to_json(cfg_);
  j["created"] = format_rfc3339(created_ns_);
  // Go's zero time for an empty stream, and first_seq 0 until the first message.
  auto ts = [](std::int64_t ns) { return ns == 0 ? std::string("0001-01-01T00:00:00Z") : format_rfc3339(ns); };
  ojson s;
  s["messages"] = st.msgs;
  s["bytes"] = st.bytes;
  s["first_seq"] = st.last_seq.value == 0 ? 0 : st.first_seq.value;
  s["first_ts"] = st.msgs == 0 ? ts(0) : ts(st.first_ts_ns);
  s["last_seq"] = st.last_seq.value;
  s["last_ts"] = ts(st.last_ts_ns);
  if (st.num_subjects != 0) s["num_subjects"] = st.num_subjects;
  if (!subjects_filter.empty()) {
    auto subjects = store_->subjects(subjects_filter);
    if (!subjects.empty()) {
      ojson m = ojson::object();
      for (const auto& [subject, count] : subjects) m[subject] = count;
      s["subjects"] = std::move(m);
    }
  }
  if (st.num_deleted != 0) {
    s["num_deleted"] = st.num_deleted;
    if (deleted_details) s["deleted"] = store_->deleted();
  }
  if (!st.lost.empty()) {
    ojson lost;
    lost["msgs"] = st.lost;
    lost["bytes"] = 0;
    s["lost"] = std::move(lost);
  }
  s["consumer_count"] = consumers_.size();
  j["state"] = std::move(s);
  return j;
}

api_error stream::update(stream_config next) {
  std::lock_guard lock(mu_);
  auto refuse = [](const char* what) {
    return errors::stream_invalid_config(std::string("stream configuration update can not ") + what);
  };
  if (next.storage != cfg_.storage) return refuse("change storage type");
  if (next.retention != cfg_.retention) return refuse("change retention policy");
  if (next.max_consumers != cfg_.max_consumers) return refuse("change MaxConsumers");
  if (cfg_.sealed && !next.sealed) return refuse("unseal a sealed stream");
  if (cfg_.deny_delete && !next.deny_delete) return refuse("cancel deny message deletes");
  if (cfg_.deny_purge && !next.deny_purge) return refuse("cancel deny purge");
  if (next.republish != cfg_.republish) return refuse("change RePublish");
  if (next.sealed) {  // nats-server's adjustments for a sealed stream
    next.max_age = 0;
    next.discard = discard_policy::new_;
    next.deny_delete = true;
    next.deny_purge = true;
    next.allow_rollup_hdrs = false;
  }
  store::limits l;
  l.max_msgs = next.max_msgs;
  l.max_bytes = next.max_bytes;
  l.max_age_ns = next.max_age;
  l.max_msgs_per_subject = next.max_msgs_per_subject;
  l.max_msg_size = next.max_msg_size;
  l.discard = next.discard == discard_policy::new_ ? store::discard_policy::new_ : store::discard_policy::old;
  l.discard_new_per_subject = next.discard_new_per_subject;
  if (status s = store_->update_limits(l); !s.is_ok()) return errors::stream_update(s.message());
  const bool subjects_changed = next.subjects != cfg_.subjects;
  cfg_ = std::move(next);
  save_config_locked();
  for (auto& [name, c] : consumers_) c->on_removed();
  if (subjects_changed) {
    detach();
    attach();
  }
  return {};
}

void stream::save_config_locked() {
  if (dir_.empty()) return;
  ojson meta;
  meta["config"] = to_json(cfg_);
  meta["created"] = created_ns_;
  status s = store::write_file_atomic(js_.fs(), dir_ + "/meta.json", meta.dump(2));
  if (!s.is_ok()) spdlog::error("stream {}: saving configuration: {}", name_, s.message());
}

api_result<std::uint64_t> stream::purge(const store::purge_request& req) {
  std::lock_guard lock(mu_);
  if (cfg_.sealed) return errors::stream_sealed();
  if (cfg_.deny_purge) return errors::stream_purge_failed("stream purge not permitted");
  auto r = store_->purge(req);
  if (!r.is_ok()) return errors::stream_purge_failed(errors::without_paths(r.status().message()));
  for (auto& [name, c] : consumers_) c->on_removed();
  return *r;
}

api_error stream::delete_message(std::uint64_t seq, bool erase) {
  std::lock_guard lock(mu_);
  if (cfg_.sealed) return errors::stream_sealed();
  if (cfg_.deny_delete) return errors::stream_msg_delete_failed("message delete not permitted");
  if (seq > store_->state().last_seq.value) return errors::stream_msg_delete_failed("stream store EOF");
  status s = store_->remove(store::stream_seq{seq}, erase);
  if (!s.is_ok()) {
    return errors::stream_msg_delete_failed(s.code() == status_code::not_found ? "no message found"
                                                                               : errors::without_paths(s.message()));
  }
  for (auto& [name, c] : consumers_) c->on_removed();
  // An answered delete must not come undone when the process is killed: its tombstone is written
  // now, after this round's appends (which it may not discard: they are written, or refused, first).
  (void)write_appends_locked(js_.server().current_worker());
  if (s = store_->write(); !s.is_ok()) return errors::stream_msg_delete_failed(errors::without_paths(s.message()));
  return {};
}

api_result<store::stored_message> stream::get_message(std::uint64_t seq, const std::string& last_by_subject,
                                                      const std::string& next_by_subject) {
  std::lock_guard lock(mu_);
  (void)write_appends_locked(nullptr);  // this round's appends are written (or refused) first
  result<store::stored_message> m = [&]() -> result<store::stored_message> {
    if (!last_by_subject.empty()) return store_->load_last(last_by_subject);
    if (!next_by_subject.empty()) return store_->load_next(store::stream_seq{seq}, next_by_subject);
    return store_->load(store::stream_seq{seq});
  }();
  if (!m.is_ok()) return errors::no_message_found();
  return std::move(m).value();
}

status stream::close(bool destroy) {
  detach();
  std::vector<std::shared_ptr<consumer>> cs;
  {
    std::lock_guard lock(mu_);
    if (closed_) return status::ok();
    closed_ = true;
    for (auto& [name, c] : consumers_) {
      c->shutdown(nullptr);
      if (c->durable() && !dir_.empty() && !destroy) c->save(dir_ + "/consumers/" + name);
      c->close_log();
    }
    consumers_.clear();
    if (status s = destroy ? store_->destroy() : store_->close(); !s.is_ok()) {
      spdlog::error("stream {}: {} the store: {}", name_, destroy ? "deleting" : "closing", s.message());
    }
  }
  if (destroy && !dir_.empty()) {
    if (status s = js_.fs().remove_tree(dir_); !s.is_ok()) {
      spdlog::error("stream {}: {}", name_, s.message());
      return s;
    }
  }
  return status::ok();
}

// ---- consumers ----

api_result<std::shared_ptr<consumer>> stream::add_consumer(consumer_config cfg) {
  std::lock_guard lock(mu_);
  if (closed_) return errors::stream_not_found();
  if (api_error e = normalize(cfg, cfg_); !e.ok()) return e;
  std::string name = !cfg.durable_name.empty() ? cfg.durable_name : cfg.name;
  if (auto it = consumers_.find(name); !name.empty() && it != consumers_.end()) {
    const consumer_config& old = it->second->config();
    if (old == cfg) return it->second;
    // A different configuration updates the consumer, except for what nats-server 2.9 refuses
    // (checkNewConsumerConfig, in its order).
    auto refuse = [](const char* what) { return errors::consumer_create(what); };
    if (old.deliver != cfg.deliver) return refuse("deliver policy can not be updated");
    if (old.opt_start_seq != cfg.opt_start_seq) return refuse("start sequence can not be updated");
    // nats-server compares the start time pointers, so any start time counts as changed.
    if (old.opt_start_time_ns || cfg.opt_start_time_ns) return refuse("start time can not be updated");
    if (old.ack != cfg.ack) return refuse("ack policy can not be updated");
    if (old.replay != cfg.replay) return refuse("replay policy can not be updated");
    if (old.idle_heartbeat != cfg.idle_heartbeat) return refuse("heart beats can not be updated");
    if (old.flow_control != cfg.flow_control) return refuse("flow control can not be updated");
    if (old.max_waiting != cfg.max_waiting) return refuse("max waiting can not be updated");
    if (old.deliver_subject != cfg.deliver_subject) {
      if (old.deliver_subject.empty()) return refuse("can not update pull consumer to push based");
      if (cfg.deliver_subject.empty()) return refuse("can not update push consumer to pull based");
      if (js_.server().has_interest(old.deliver_subject)) return errors::consumer_name_exists();
    }
    it->second->reconfigure(cfg);
    if (it->second->durable() && !dir_.empty()) it->second->save(dir_ + "/consumers/" + name);
    return it->second;
  }
  if (cfg_.max_consumers > 0 && static_cast<std::int64_t>(consumers_.size()) >= cfg_.max_consumers) {
    return errors::maximum_consumers_limit();
  }
  if (cfg_.retention == retention_policy::workqueue && !consumers_.empty()) {
    if (cfg.filter_subject.empty()) return errors::consumer_wq_multiple_unfiltered();
    for (const auto& [n, c] : consumers_) {
      if (c->config().filter_subject.empty() ||
          protocol::subjects_overlap(c->config().filter_subject, cfg.filter_subject)) {
        return errors::consumer_wq_not_unique();
      }
    }
  }
  if (name.empty()) {
    // Ephemeral: a random name as nats-server makes (8 characters).
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937_64 rng(std::random_device{}());
    do {
      name.clear();
      for (int i = 0; i < 8; ++i) name += alphabet[rng() % (sizeof alphabet - 1)];
    } while (consumers_.count(name) != 0);
  }
  auto c = std::make_shared<consumer>(*this, cfg, js_.wall_ns(), name);
  if (c->durable() && !dir_.empty()) {
    c->save(dir_ + "/consumers/" + name);
    c->open_log(dir_ + "/consumers/" + name);
  }
  consumers_[name] = c;
  c->start(js_.server().current_worker());
  return c;
}

void stream::recover_consumer(consumer_config cfg, std::int64_t created_ns, const std::optional<std::string>& state) {
  std::lock_guard lock(mu_);
  const std::string name = cfg.durable_name.empty() ? cfg.name : cfg.durable_name;
  auto c = std::make_shared<consumer>(*this, std::move(cfg), created_ns, name);
  const status loaded = state ? c->load_state(*state) : not_found("state.rec is missing");
  if (!loaded.is_ok()) {
    const std::string what = "stream " + cfg_.name + " consumer " + name + ": saved state lost (" + loaded.message() +
                             "); delivery starts again from the first message";
    spdlog::error("JetStream: {}", what);
    js_.report_problem(what);
  }
  if (!dir_.empty()) c->open_log(dir_ + "/consumers/" + name);
  consumers_[name] = c;
}

void stream::keep_sequences_seen() {
  std::lock_guard lock(mu_);
  std::uint64_t seen = 0;
  std::string by;
  for (const auto& [name, c] : consumers_) {
    if (c->highest_seen() > seen) {
      seen = c->highest_seen();
      by = name;
    }
  }
  const std::uint64_t last = store_->state().last_seq.value;
  if (seen <= last) return;
  const status s = store_->skip_to(store::stream_seq{seen});
  const std::string what = "stream " + cfg_.name + ": recovered up to sequence " + std::to_string(last) +
                           " but consumer " + by + " had seen " + std::to_string(seen) + "; messages " +
                           std::to_string(last + 1) + ".." + std::to_string(seen) + " are lost" +
                           (s.is_ok() ? ", new ones continue from " + std::to_string(seen + 1)
                                      : "; raising the last sequence failed: " + s.message());
  spdlog::error("JetStream: {}", what);
  js_.report_problem(what);
}

std::shared_ptr<consumer> stream::find_consumer(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(name);
  return it == consumers_.end() ? nullptr : it->second;
}

api_error stream::delete_consumer(const std::string& name) {
  std::shared_ptr<consumer> c;
  status removal;
  {
    std::lock_guard lock(mu_);
    auto it = consumers_.find(name);
    if (it == consumers_.end()) return errors::consumer_not_found();
    c = it->second;
    consumers_.erase(it);
    c->shutdown(js_.server().current_worker());
    c->close_log();
    if (!dir_.empty()) {
      if (status s = js_.fs().remove_tree(dir_ + "/consumers/" + name); !s.is_ok()) {
        // Gone from memory, maybe not from the disk for good: the client hears of it.
        spdlog::error("stream {}: deleting consumer {}: {}", name_, name, s.message());
        removal = std::move(s);
      }
    }
    // Interest retention: messages only this consumer held can go now.
    if (cfg_.retention != retention_policy::limits) {
      const store::store_state st = store_->state();
      for (std::uint64_t s = st.first_seq.value; s <= st.last_seq.value && s != 0; ++s) apply_retention_locked(s);
    }
  }
  if (!removal.is_ok()) return errors::store_failure(removal);
  return {};
}

std::vector<std::shared_ptr<consumer>> stream::consumers() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<consumer>> out;
  for (auto& [n, c] : consumers_) out.push_back(c);
  return out;
}

void stream::tick(std::int64_t wall_ns, std::int64_t steady_ns) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (cfg_.max_age > 0 && store_->expire(wall_ns) > 0) {
      for (auto& [name, c] : consumers_) c->on_removed();
    }
    prune_dedup_locked(wall_ns);
    for (auto it = consumers_.begin(); it != consumers_.end();) {
      consumer& c = *it->second;
      if (!c.tick(steady_ns)) {
        spdlog::debug("stream {}: ephemeral consumer {} inactive, removed", name_, it->first);
        c.shutdown(nullptr);
        it = consumers_.erase(it);
        continue;
      }
      if (c.durable() && !dir_.empty()) c.maybe_save(dir_ + "/consumers/" + it->first, steady_ns);
      ++it;
    }
  }
  run_deferred(nullptr);
}

}  // namespace ferry::broker::js
