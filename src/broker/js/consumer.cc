#include "broker/js/consumer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <random>

#include "base/duration.h"
#include "broker/js/jetstream.h"
#include "broker/js/stream.h"
#include "protocol/headers.h"
#include "store/record.h"

namespace ferry::broker::js {

namespace {

// Flow control as nats-server 2.9 paces it: a request after about 1 MiB, and no
// more pushing past about 2 MiB until it is answered.
constexpr std::uint64_t fc_every_bytes = 1024 * 1024;
constexpr std::uint64_t fc_stall_bytes = 2 * 1024 * 1024;

std::string random_token(std::size_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % (sizeof alphabet - 1)];
  return s;
}

// Go's time.Duration.String() for whole milliseconds and up ("1s", "1m30s",
// "500ms").
std::string go_duration(std::int64_t ns) {
  if (ns % second != 0 && ns < second) return std::to_string(ns / 1'000'000) + "ms";
  std::int64_t s = ns / second;
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
    s %= 3600;
  }
  if (!out.empty() || s >= 60) {
    out += std::to_string(s / 60) + "m";
    s %= 60;
  }
  out += std::to_string(s) + "s";
  return out;
}

}  // namespace

consumer::consumer(stream& s, consumer_config cfg, std::int64_t created_ns, std::string name)
    : s_(s), cfg_(std::move(cfg)), name_(std::move(name)), created_ns_(created_ns), stream_name_(s.name()) {
  last_activity_ns_ = s.js().steady_ns();
  last_delivery_ns_ = last_activity_ns_;
}

void consumer::unreadable(std::uint64_t seq, const status& why) {
  const std::string what = "stream " + stream_name_ + " consumer " + name_ + ": message " + std::to_string(seq) +
                           " could not be read (" + why.message() + "); skipped";
  spdlog::error("JetStream: {}", what);
  s_.js().report_problem(what);
}

// ---- position ----

void consumer::start(worker* w) {
  store::message_store& st = s_.store_locked();
  const store::store_state state = st.state();
  const std::uint64_t first = state.first_seq.value == 0 ? 1 : state.first_seq.value;
  switch (cfg_.deliver) {
    case deliver_policy::all:
      next_sseq_ = first;
      break;
    case deliver_policy::last: {
      auto m = st.load_last(cfg_.filter_subject);
      next_sseq_ = m.is_ok() ? m->seq.value : state.last_seq.value + 1;
      break;
    }
    case deliver_policy::new_:
      next_sseq_ = state.last_seq.value + 1;
      break;
    case deliver_policy::by_start_sequence:
      next_sseq_ = cfg_.opt_start_seq;
      break;
    case deliver_policy::by_start_time: {
      next_sseq_ = state.last_seq.value + 1;
      std::uint64_t seq = first;
      for (;;) {
        auto m = st.load_next(store::stream_seq{seq}, cfg_.filter_subject);
        if (!m.is_ok()) break;
        if (m->timestamp_ns >= *cfg_.opt_start_time_ns) {
          next_sseq_ = m->seq.value;
          break;
        }
        seq = m->seq.value + 1;
      }
      break;
    }
    case deliver_policy::last_per_subject: {
      std::vector<std::uint64_t> seqs;
      for (const auto& [subject, count] : st.subjects(cfg_.filter_subject)) seqs.push_back(st.last_seq_of(subject));
      std::sort(seqs.begin(), seqs.end());
      initial_.assign(seqs.begin(), seqs.end());
      next_sseq_ = state.last_seq.value + 1;
      break;
    }
  }
  if (next_sseq_ == 0) next_sseq_ = 1;
  // nats-server reports the position before the first delivery as delivered (its sseq - 1).
  last_sseq_ = (initial_.empty() ? next_sseq_ : initial_.front()) - 1;
  pending_stale_ = true;
  dirty_ = true;
  initial_info_ = info();
  deliver_ready(w);
}

void consumer::on_removed() {
  // Messages vanished: drop what no longer exists from the pending set, and
  // skip gaps.
  store::message_store& st = s_.store_locked();
  const store::store_state state = st.state();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!st.load(store::stream_seq{it->first}).is_ok()) {
      redeliver_.erase(it->first);
      deliveries_.erase(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (next_sseq_ < state.first_seq.value) next_sseq_ = state.first_seq.value;
  pending_stale_ = true;
  update_ack_floor();
  dirty_ = true;
}

std::uint64_t consumer::num_pending() const {
  if (pending_stale_) {
    pending_count_ =
        s_.store_locked().num_pending(store::stream_seq{next_sseq_}, cfg_.filter_subject) + initial_.size();
    pending_stale_ = false;
  }
  return pending_count_;
}

std::int64_t consumer::ack_wait_for(std::uint64_t deliveries) const {
  if (!cfg_.backoff.empty()) {
    const std::size_t i = deliveries == 0 ? 0 : std::min<std::size_t>(deliveries - 1, cfg_.backoff.size() - 1);
    return cfg_.backoff[i];
  }
  return cfg_.ack_wait > 0 ? cfg_.ack_wait : 30 * second;
}

std::string consumer::ack_reply(std::uint64_t dc, std::uint64_t sseq, std::uint64_t dseq, std::int64_t ts,
                                std::optional<std::uint64_t> pending) const {
  // One buffer, numbers written in place: this runs for every message delivered.
  const std::uint64_t p = pending ? *pending : num_pending();
  std::string out;
  out.reserve(8 + stream_name_.size() + 1 + name_.size() + 5 * 21);
  out.append("$JS.ACK.").append(stream_name_).append(1, '.').append(name_);
  char num[24];
  auto add = [&](auto v) {
    out.push_back('.');
    out.append(num, std::to_chars(num, num + sizeof num, v).ptr);
  };
  add(dc);
  add(sseq);
  add(dseq);
  add(ts);
  add(p);
  return out;
}

// ---- delivery ----

bool consumer::peek(candidate& c, bool allow_new) {
  store::message_store& st = s_.store_locked();
  while (!redeliver_.empty()) {
    const std::uint64_t seq = *redeliver_.begin();
    auto p = pending_.find(seq);
    if (p == pending_.end()) {
      redeliver_.erase(redeliver_.begin());
      continue;
    }
    auto m = st.load(store::stream_seq{seq});
    if (!m.is_ok()) {
      if (m.status().code() != status_code::not_found) unreadable(seq, m.status());
      redeliver_.erase(redeliver_.begin());
      pending_.erase(p);
      deliveries_.erase(seq);
      continue;
    }
    auto d = deliveries_.find(seq);
    const std::uint64_t dc = (d == deliveries_.end() ? 1 : d->second) + 1;
    if (cfg_.max_deliver > 0 && dc > static_cast<std::uint64_t>(cfg_.max_deliver)) {
      // As nats-server: no longer pending, still counted as redelivered (until acked), and the
      // ack floor stays where it is (it only moves with acks).
      redeliver_.erase(redeliver_.begin());
      pending_.erase(p);
      max_deliveries_reached(seq, dc - 1);
      continue;
    }
    c.m = std::move(m).value();
    c.dc = dc;
    c.kind = candidate::redelivery;
    return true;
  }
  if (!allow_new) return false;
  while (!initial_.empty()) {
    auto m = st.load(store::stream_seq{initial_.front()});
    if (m.is_ok() && matches(m->subject)) {
      c.m = std::move(m).value();
      c.dc = 1;
      c.kind = candidate::initial;
      return true;
    }
    initial_.pop_front();
  }
  const std::uint64_t unwritten = s_.unwritten_from_locked();
  for (;;) {
    auto m = st.load_next(store::stream_seq{next_sseq_}, cfg_.filter_subject);
    if (m.is_ok() && unwritten != 0 && m->seq.value >= unwritten) {
      held_ = true;  // not written yet: on_written() comes back for it
      return false;
    }
    if (!m.is_ok() && m.status().code() != status_code::not_found) {
      // The next message exists but cannot be read (damaged on disk): report it and go on with
      // the ones after it, as nats-server does; stopping here would skip them all.
      if (const std::uint64_t bad = st.next_seq(store::stream_seq{next_sseq_}, cfg_.filter_subject); bad != 0) {
        unreadable(bad, m.status());
        next_sseq_ = bad + 1;
        pending_stale_ = true;
        continue;
      }
    }
    if (!m.is_ok()) {
      // Nothing more matches: nats-server moves its position past the end of the stream (a
      // filtered consumer then reports the stream's last sequence as delivered).
      // Never past what is not written yet: if its write fails, those sequences are given again.
      std::uint64_t end = st.state().last_seq.value + 1;
      if (unwritten != 0) end = std::min(end, unwritten);
      if (next_sseq_ < end) {
        next_sseq_ = end;
        last_sseq_ = std::max(last_sseq_, end - 1);
      }
      return false;
    }
    if (acked_beyond_.erase(m->seq.value) > 0) {
      next_sseq_ = m->seq.value + 1;
      if (!pending_stale_ && pending_count_ > 0) --pending_count_;
      continue;
    }
    if (cfg_.replay == replay_policy::original) {
      const std::int64_t now = s_.js().steady_ns();
      if (replay_ref_ns_ == 0) {
        replay_ref_ns_ = now;
        replay_first_ts_ = m->timestamp_ns;
      } else if (now - replay_ref_ns_ < m->timestamp_ns - replay_first_ts_) {
        return false;  // not yet: the tick delivers it when its time comes
      }
    }
    c.m = std::move(m).value();
    c.dc = 1;
    c.kind = candidate::fresh;
    return true;
  }
}

void consumer::take(const candidate& c) {
  switch (c.kind) {
    case candidate::redelivery:
      redeliver_.erase(c.m.seq.value);
      return;
    case candidate::initial:
      initial_.pop_front();
      break;
    case candidate::fresh:
      next_sseq_ = c.m.seq.value + 1;
      break;
  }
  if (!pending_stale_ && pending_count_ > 0) --pending_count_;
}

bool consumer::can_deliver_push() const {
  if (!cfg_.push()) return false;
  if (!fc_pending_.empty() && fc_bytes_ >= fc_stall_bytes) return false;
  return s_.js().server().has_interest(cfg_.deliver_subject);
}

void consumer::send(const store::stored_message& m, std::uint64_t dc, const std::string& to, worker* w,
                    const send_time& t) {
  const std::int64_t now = t.steady_ns, wall = t.wall_ns;
  const std::uint64_t dseq = ++dseq_;
  if (cfg_.ack != ack_policy::none) {
    pending_[m.seq.value] = pending{dseq, now + ack_wait_for(dc), wall};
    if (dc > 1) deliveries_[m.seq.value] = dc;
  } else {
    ack_floor_dseq_ = dseq;
    ack_floor_sseq_ = m.seq.value;
  }
  if (dc > 1) ++num_redelivered_;
  last_sseq_ = std::max(last_sseq_, m.seq.value);
  last_delivery_ns_ = now;
  last_delivery_wall_ns_ = wall;
  dirty_ = true;
  std::string headers = m.headers;
  std::string_view data = m.data;
  if (cfg_.headers_only) {
    protocol::header_builder hb;
    if (!m.headers.empty()) hb.add_block(m.headers);
    hb.add("Nats-Msg-Size", std::to_string(m.data.size()));
    headers = hb.finish();
    data = {};
  }
  route_options o;
  o.match_subject = to;
  o.clients_only = true;
  s_.js().server().publish(w, m.subject, ack_reply(dc, m.seq.value, dseq, m.timestamp_ns), headers, data, o);
  if (cfg_.push() && cfg_.flow_control) {
    fc_bytes_ += headers.size() + data.size();
    if (fc_pending_.empty() && fc_bytes_ >= fc_every_bytes) {
      fc_pending_ = "$JS.FC." + stream_name_ + "." + name_ + "." + random_token(4);
      s_.js().server().publish(w, cfg_.deliver_subject, fc_pending_, statuses::flow_control.headers(), {}, o);
    }
  }
}

void consumer::deliver_ready(worker* w) {
  const bool acks = cfg_.ack != ack_policy::none;
  auto room = [&] {
    return !acks || cfg_.max_ack_pending <= 0 || pending_.size() < static_cast<std::size_t>(cfg_.max_ack_pending);
  };
  candidate c;
  std::optional<send_time> t;
  auto stamp = [&]() -> const send_time& {
    if (!t) t = send_time{s_.js().steady_ns(), s_.js().wall_ns()};
    return *t;
  };
  if (cfg_.push()) {
    while (can_deliver_push()) {
      if (!peek(c, room())) break;
      take(c);
      send(c.m, c.dc, cfg_.deliver_subject, w, stamp());
    }
    return;
  }
  while (!waiting_.empty()) {
    pull_request& r = waiting_.front();
    if (!s_.js().server().has_interest(r.reply)) {
      waiting_.pop_front();  // the requester is gone
      continue;
    }
    if (!peek(c, room())) break;
    // nats-server counts the subject, the ack reply, the headers and the data against max_bytes.
    std::uint64_t pending_after = num_pending();
    if (c.kind != candidate::redelivery && pending_after > 0) --pending_after;
    // (Only counted where the request set max_bytes: the reply is built again when it is sent.)
    const std::int64_t size =
        r.max_bytes <= 0 ? 0
                         : static_cast<std::int64_t>(
                               c.m.subject.size() +
                               ack_reply(c.dc, c.m.seq.value, dseq_ + 1, c.m.timestamp_ns, pending_after).size() +
                               c.m.headers.size() + c.m.data.size());
    if (r.max_bytes > 0 && r.bytes + size > r.max_bytes) {
      // The request ends here, whether or not it got messages before (as nats-server 2.9).
      send_status(r.reply, statuses::message_exceeds_max_bytes,
                  pending_headers(r.batch - r.delivered, r.max_bytes - r.bytes), w);
      waiting_.pop_front();
      continue;
    }
    take(c);
    send(c.m, c.dc, r.reply, w, stamp());
    r.delivered++;
    r.bytes += size;
    r.last_activity_ns = last_delivery_ns_;
    if (r.delivered >= r.batch) waiting_.pop_front();
  }
  // A no_wait request ends as soon as nothing more is available.
  while (!waiting_.empty() &&
         (waiting_.front().no_wait || (waiting_.front().end_when_served && waiting_.front().delivered > 0))) {
    end_request(waiting_.front(), w);
    waiting_.pop_front();
  }
}

void consumer::end_request(const pull_request& r, worker* w) {
  send_status(r.reply, statuses::request_timeout,
              pending_headers(r.batch - r.delivered, r.max_bytes > 0 ? r.max_bytes - r.bytes : 0), w);
}

void consumer::expire_requests(std::int64_t now, worker* w) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->expires_ns != 0 && it->expires_ns <= now) {
      end_request(*it, w);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string consumer::last_headers() const {
  return "Nats-Last-Consumer: " + std::to_string(dseq_) + "\r\nNats-Last-Stream: " + std::to_string(last_sseq_) +
         "\r\n";
}

void consumer::on_message(std::uint64_t seq, std::string_view, worker* w) {
  if (!pending_stale_ && seq >= next_sseq_) ++pending_count_;
  deliver_ready(w);
}

void consumer::on_written(worker* w) {
  if (!held_) return;
  held_ = false;
  deliver_ready(w);
}

void consumer::send_status(const std::string& to, const status_line& st, const std::string& extra_headers, worker* w,
                           std::string_view suffix) {
  const std::string h = st.headers(suffix, extra_headers);
  route_options o;
  o.clients_only = true;
  s_.js().server().publish(w, to, {}, h, {}, o, /*empty_reply_field=*/true);
}

// ---- pull requests ----

bool consumer::parse_pull_body(std::string_view b, pull_request& r) {
  while (!b.empty() && (b.front() == ' ' || b.front() == '\t')) b.remove_prefix(1);
  if (!b.empty() && b.front() == '{') {
    auto j = nlohmann::json::parse(b.begin(), b.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    auto num = [&](const char* k) -> std::int64_t {
      auto it = j.find(k);
      return it != j.end() && it->is_number() ? it->get<std::int64_t>() : 0;
    };
    r.batch = num("batch");
    r.expires_ns = num("expires");
    r.max_bytes = num("max_bytes");
    r.heartbeat_ns = num("idle_heartbeat");
    if (auto it = j.find("no_wait"); it != j.end() && it->is_boolean()) r.no_wait = it->get<bool>();
    if (r.batch <= 0) r.batch = 1;
  } else if (!b.empty()) {
    std::int64_t n = 0;
    auto res = std::from_chars(b.data(), b.data() + b.size(), n);
    r.batch = res.ec == std::errc() && n > 0 ? n : 1;
  }
  return true;
}

const status_line* consumer::refuse_pull(const pull_request& r, std::string& suffix) const {
  if (r.heartbeat_ns > 0 && (r.expires_ns <= 0 || r.heartbeat_ns * 2 > r.expires_ns))
    return &statuses::heartbeat_too_large;
  if (cfg_.max_batch > 0 && r.batch > cfg_.max_batch) {
    suffix = " " + std::to_string(cfg_.max_batch);
    return &statuses::exceeded_max_batch;
  }
  // A request without expiry passes (nats-server 2.9 checks only a set expiry against the limit).
  if (cfg_.max_expires > 0 && r.expires_ns > cfg_.max_expires) {
    suffix = " " + go_duration(cfg_.max_expires);
    return &statuses::exceeded_max_expires;
  }
  if (cfg_.max_bytes > 0 && r.max_bytes > cfg_.max_bytes) {
    suffix = " " + std::to_string(cfg_.max_bytes);
    return &statuses::exceeded_max_bytes;
  }
  return nullptr;
}

void consumer::on_pull_request(std::string_view body, std::string_view reply, worker* w) {
  const std::string to(reply);
  last_activity_ns_ = s_.js().steady_ns();
  if (to.empty()) return;
  if (cfg_.push()) {
    send_status(to, statuses::push_based, {}, w);
    return;
  }
  pull_request r;
  r.reply = to;
  if (!parse_pull_body(body, r)) {
    send_status(to, statuses::invalid_request, {}, w);
    return;
  }
  std::string suffix;
  if (const status_line* refusal = refuse_pull(r, suffix); refusal != nullptr) {
    send_status(to, *refusal, {}, w, suffix);
    return;
  }
  const std::int64_t now = s_.js().steady_ns();
  // Requests that expired since the last tick end first, so that they count neither against
  // max_waiting nor as "others waiting" for a no_wait request.
  expire_requests(now, w);
  if (cfg_.max_waiting > 0 && waiting_.size() >= static_cast<std::size_t>(cfg_.max_waiting)) {
    send_status(to, statuses::exceeded_max_waiting, {}, w);
    return;
  }
  if (r.no_wait) {
    // nats-server answers a no_wait request at once: 404 when others are
    // waiting or nothing is there, else what there is, and a 408 if that did
    // not fill the batch.
    candidate c;
    if (waiting_.empty() && r.expires_ns > 0 && !peek(c, true)) {
      // With an expiry, nothing there yet: wait for it (408 when it expires).
      r.no_wait = false;
      r.end_when_served = true;
    } else if (!waiting_.empty() || r.expires_ns < 0 || !peek(c, true)) {
      if (r.expires_ns < 0) {
        send_status(to, statuses::request_timeout, pending_headers(0, 0), w);
      } else {
        send_status(to, statuses::no_messages, {}, w);
      }
      return;
    }
  }
  if (r.expires_ns > 0) {
    r.expires_ns += now;
    s_.js().wake_at(r.expires_ns);  // the 408 on time, not up to a tick late
  }
  r.last_activity_ns = now;
  waiting_.push_back(std::move(r));
  deliver_ready(w);
}

std::string consumer::pending_headers(std::int64_t msgs, std::int64_t bytes) {
  return "Nats-Pending-Messages: " + std::to_string(msgs) + "\r\nNats-Pending-Bytes: " + std::to_string(bytes) + "\r\n";
}

// ---- acknowledgements ----

void consumer::on_ack(std::uint64_t sseq, std::uint64_t, std::string_view body, std::string_view reply, worker* w) {
  const std::int64_t now = s_.js().steady_ns();
  last_activity_ns_ = now;
  std::string_view kind = body.substr(0, std::min<std::size_t>(body.size(), 4));
  std::string_view rest = body.size() > 4 ? body.substr(4) : std::string_view();
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  bool ack_ack = !reply.empty();
  const bool acking = body.empty() || kind == "+ACK" || body == "+OK" || kind == "+NXT" || kind == "+TER";
  // nats-server stamps the ack floor's activity for every explicit ack, and for an ack-all ack
  // that moves the floor.
  if (acking && (cfg_.ack == ack_policy::explicit_ || (cfg_.ack == ack_policy::all && sseq > ack_floor_sseq_))) {
    last_ack_ns_ = s_.js().wall_ns();
  }
  if (body.empty() || kind == "+ACK" || body == "+OK") {
    if (cfg_.ack == ack_policy::all) {
      acked_through(sseq);
    } else {
      ack_one(sseq);
    }
  } else if (kind == "-NAK") {
    auto p = pending_.find(sseq);
    if (p != pending_.end()) {
      std::int64_t delay = 0;
      if (!rest.empty()) {
        if (rest.front() == '{') {
          auto j = nlohmann::json::parse(rest.begin(), rest.end(), nullptr, false);
          if (j.is_object()) delay = j.value("delay", std::int64_t{0});
        } else {
          auto d = parse_go_duration(rest);  // "-NAK 5s": Go's syntax; an unparsable delay is none
          delay = d.is_ok() ? d->count() : 0;
        }
      }
      if (delay > 0) {
        p->second.deadline_ns = now + delay;
      } else {
        redeliver_.insert(sseq);
      }
    }
    ojson adv;
    adv["type"] = "io.nats.jetstream.advisory.v1.nak";
    adv["id"] = random_token(22);
    adv["timestamp"] = format_rfc3339(s_.js().wall_ns());
    adv["stream"] = stream_name_;
    adv["consumer"] = name_;
    adv["consumer_seq"] = p != pending_.end() ? p->second.dseq : 0;
    adv["stream_seq"] = sseq;
    auto d = deliveries_.find(sseq);
    adv["deliveries"] = d == deliveries_.end() ? 1 : d->second;
    s_.defer_locked(
        {"$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED." + stream_name_ + "." + name_, {}, {}, adv.dump(), {}, true});
  } else if (kind == "+WPI") {
    auto p = pending_.find(sseq);
    if (p != pending_.end()) {
      auto d = deliveries_.find(sseq);
      p->second.deadline_ns = now + ack_wait_for(d == deliveries_.end() ? 1 : d->second);
    }
  } else if (kind == "+NXT") {
    if (cfg_.ack == ack_policy::all) {
      acked_through(sseq);
    } else {
      ack_one(sseq);
    }
    ack_ack = false;
    on_pull_request(rest, reply, w);
  } else if (kind == "+TER") {
    std::string reason(body.size() > 5 ? body.substr(5) : std::string_view());
    while (!reason.empty() && reason.front() == ' ') reason.erase(0, 1);
    terminate(sseq, reason, w);
  }
  // An unknown body does nothing, but its sender still gets the ack-ack (as
  // nats-server 2.9).
  if (ack_ack && !reply.empty() && durable()) {
    confirmations_.emplace_back(reply);  // sent by flush_log() once the ack log is written
  } else if (ack_ack) {
    route_options o;
    o.clients_only = true;
    s_.js().server().publish(w, reply, {}, {}, {}, o, /*empty_reply_field=*/true);
  }
  if (durable()) s_.request_round_locked(w);  // writes the ack log, then confirms
  deliver_ready(w);
}

void consumer::ack_one(std::uint64_t sseq) {
  if (cfg_.ack == ack_policy::none) return;
  auto p = pending_.find(sseq);
  if (p == pending_.end()) return;
  const std::uint64_t dseq = p->second.dseq;
  pending_.erase(p);
  deliveries_.erase(sseq);
  redeliver_.erase(sseq);
  log_ack(sseq, dseq);
  update_ack_floor();
  dirty_ = true;
  s_.apply_retention_locked(sseq);
}

void consumer::log_ack(std::uint64_t sseq, std::uint64_t dseq) { store::record::append_ack(log_buf_, sseq, dseq); }

void consumer::acked_through(std::uint64_t sseq) {
  std::vector<std::uint64_t> done;
  for (auto it = pending_.begin(); it != pending_.end() && it->first <= sseq; ++it) done.push_back(it->first);
  for (std::uint64_t s : done) ack_one(s);
}

void consumer::update_ack_floor() {
  if (pending_.empty()) {
    ack_floor_dseq_ = dseq_;
    ack_floor_sseq_ = cfg_.ack == ack_policy::none ? last_sseq_ : std::max(ack_floor_sseq_, last_sseq_);
    if (cfg_.ack != ack_policy::none) ack_floor_sseq_ = last_sseq_;
    return;
  }
  const auto& first = *pending_.begin();
  ack_floor_dseq_ = first.second.dseq > 0 ? first.second.dseq - 1 : 0;
  ack_floor_sseq_ = first.first > 0 ? first.first - 1 : 0;
}

void consumer::terminate(std::uint64_t sseq, const std::string& reason, worker*) {
  auto p = pending_.find(sseq);
  if (p == pending_.end()) return;
  const std::uint64_t dseq = p->second.dseq;
  auto d = deliveries_.find(sseq);
  const std::uint64_t dc = d == deliveries_.end() ? 1 : d->second;
  pending_.erase(p);
  deliveries_.erase(sseq);
  redeliver_.erase(sseq);
  log_ack(sseq, dseq);
  update_ack_floor();
  dirty_ = true;
  ojson adv;
  adv["type"] = "io.nats.jetstream.advisory.v1.terminated";
  adv["id"] = random_token(22);
  adv["timestamp"] = format_rfc3339(s_.js().wall_ns());
  adv["stream"] = stream_name_;
  adv["consumer"] = name_;
  adv["consumer_seq"] = dseq;
  adv["stream_seq"] = sseq;
  adv["deliveries"] = dc;
  if (!reason.empty()) adv["reason"] = reason;
  s_.defer_locked(
      {"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + stream_name_ + "." + name_, {}, {}, adv.dump(), {}, true});
  dead_letter(sseq, reason.empty() ? "terminated" : "terminated: " + reason, dc);
  s_.apply_retention_locked(sseq);
}

void consumer::max_deliveries_reached(std::uint64_t sseq, std::uint64_t deliveries) {
  ojson adv;
  adv["type"] = "io.nats.jetstream.advisory.v1.max_deliver";
  adv["id"] = random_token(22);
  adv["timestamp"] = format_rfc3339(s_.js().wall_ns());
  adv["stream"] = stream_name_;
  adv["consumer"] = name_;
  adv["stream_seq"] = sseq;
  adv["deliveries"] = deliveries;
  s_.defer_locked(
      {"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream_name_ + "." + name_, {}, {}, adv.dump(), {}, true});
  log_ack(sseq, 0);
  dirty_ = true;
  dead_letter(sseq, "max_deliver", deliveries);
  s_.apply_retention_locked(sseq);
}

void consumer::dead_letter(std::uint64_t sseq, const std::string& reason, std::uint64_t deliveries) {
  const std::string& target =
      !cfg_.dead_letter_stream.empty() ? cfg_.dead_letter_stream : s_.config_locked().dead_letter_stream;
  if (target.empty() || target == stream_name_) return;
  auto m = s_.store_locked().load(store::stream_seq{sseq});
  if (!m.is_ok()) return;
  protocol::header_builder hb;
  if (!m->headers.empty()) hb.add_block(m->headers);
  hb.add("Ferry-Dead-Letter-Reason", reason)
      .add("Ferry-Dead-Letter-Stream", stream_name_)
      .add("Ferry-Dead-Letter-Consumer", name_)
      .add("Ferry-Dead-Letter-Subject", m->subject)
      .add("Ferry-Dead-Letter-Sequence", std::to_string(sseq))
      .add("Ferry-Dead-Letter-Deliveries", std::to_string(deliveries))
      .add("Ferry-Dead-Letter-Time", format_rfc3339(s_.js().wall_ns()));
  s_.defer_locked({m->subject, {}, hb.finish(), m->data, target});
}

bool consumer::needs(std::uint64_t seq, std::string_view subject) const {
  if (!matches(subject)) return false;
  if (pending_.count(seq) != 0) return true;
  if (acked_beyond_.count(seq) != 0) return false;
  return seq >= next_sseq_;
}

// ---- time ----

bool consumer::tick(std::int64_t now) {
  // Redeliveries whose ack wait (or NAK delay) ran out.
  if (cfg_.ack != ack_policy::none) {
    for (auto& [seq, p] : pending_) {
      if (p.deadline_ns <= now && redeliver_.count(seq) == 0) {
        redeliver_.insert(seq);
        p.deadline_ns = now + ack_wait_for(deliveries_.count(seq) ? deliveries_[seq] + 1 : 2);
      }
    }
  }
  // Pull requests that expired; heartbeats for the ones that asked.
  expire_requests(now, nullptr);
  for (pull_request& r : waiting_) {
    if (r.heartbeat_ns > 0 && now - r.last_activity_ns >= r.heartbeat_ns) {
      send_status(r.reply, statuses::idle_heartbeat, last_headers(), nullptr);
      r.last_activity_ns = now;
    }
  }
  deliver_ready(nullptr);
  if (cfg_.push()) {
    const bool interest = s_.js().server().has_interest(cfg_.deliver_subject);
    if (interest) last_activity_ns_ = now;
    if (cfg_.idle_heartbeat > 0 && interest && now - last_delivery_ns_ >= cfg_.idle_heartbeat) {
      std::string extra = last_headers();
      if (!fc_pending_.empty()) extra += "Nats-Consumer-Stalled: " + fc_pending_ + "\r\n";
      send_status(cfg_.deliver_subject, statuses::idle_heartbeat, extra, nullptr);
      last_delivery_ns_ = now;
    }
  } else if (!waiting_.empty()) {
    last_activity_ns_ = now;
  }
  if (!durable() && cfg_.inactive_threshold > 0 && now - last_activity_ns_ > cfg_.inactive_threshold) return false;
  return true;
}

void consumer::on_flow_control_reply(std::string_view subject, worker* w) {
  if (subject == fc_pending_) {
    fc_pending_.clear();
    fc_bytes_ = 0;
    deliver_ready(w);
  }
}

void consumer::shutdown(worker* w) {
  for (const pull_request& r : waiting_) send_status(r.reply, statuses::consumer_deleted, {}, w);
  waiting_.clear();
}

}  // namespace ferry::broker::js
