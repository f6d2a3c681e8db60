// connection: the client protocol operations (CONNECT, PUB/HPUB, SUB, UNSUB, PING/PONG) and
// delivery into the connection. Behaviour follows nats-server's client.go; see
// docs/protocol.md for the choices made where it is ambiguous.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "broker/connection.h"
#include "broker/core.h"
#include "broker/worker.h"
#include "protocol/subject.h"

namespace ferry::broker {

namespace {
constexpr std::string_view ok_frame = "+OK\r\n";
constexpr std::string_view no_responders_headers = "NATS/1.0 503\r\n\r\n";

// Reply prefixes the server uses itself (service imports, gateways, JetStream acks); a client
// may not use them (nats-server's isReservedReply).
bool reserved_reply(std::string_view reply) {
  return reply.starts_with("_R_.") || (reply.size() > 5 && reply.starts_with("_GR_.")) ||
         (reply.size() > 8 && reply.starts_with("$JS.ACK."));
}
}  // namespace

void connection::send_err(protocol::client_error e) { send(protocol::err_frame(e), &owner_); }

bool connection::on_connect(std::string_view json) {
  auto parsed = parse_client_options(json);
  if (!parsed) {
    spdlog::debug("{}:{} - cid:{} - malformed CONNECT", ip_, port_, id_);
    close(close_reason::parse_error);
    return false;
  }
  const client_options& o = *parsed;
  auth_outcome a = core_.auth().authenticate(o);
  if (!a.ok || !o.account.empty() || o.new_account) {
    spdlog::warn("{}:{} - cid:{} - authentication error{}", ip_, port_, id_,
                 o.user.empty() ? std::string() : " for user \"" + o.user + "\"");
    close(close_reason::auth_violation, protocol::err_frame(protocol::client_error::authorization_violation));
    return false;
  }
  if (o.protocol < 0 || o.protocol > 1) {
    close(close_reason::bad_client_protocol, protocol::err_frame(protocol::client_error::invalid_client_protocol));
    return false;
  }
  if (o.no_responders && !o.headers) {
    close(close_reason::no_responders_requires_headers,
          protocol::err_frame(protocol::client_error::no_responders_requires_headers));
    return false;
  }
  opts_ = o;
  if (!connected_) {
    // Permissions are fixed by the first CONNECT: deliverers on other threads read them.
    perms_ = a.perms;
  }
  connected_ = true;
  auth_timer_.cancel();
  parser_.set_headers(o.headers);
  client_headers_.store(o.headers, std::memory_order_relaxed);
  no_echo_.store(!o.echo, std::memory_order_relaxed);
  {
    std::lock_guard lock(subs_mu_);  // guards the monitoring copy of the client's name etc.
    if (user_.empty()) user_ = a.user;
    name_ = o.name;
    lang_ = o.lang;
    version_ = o.version;
  }
  if (o.verbose) send(ok_frame, &owner_);
  return true;
}

bool connection::on_pub(const protocol::pub_frame& f) {
  in_msgs_.store(in_msgs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  in_bytes_.store(in_bytes_.load(std::memory_order_relaxed) + f.data.size(), std::memory_order_relaxed);
  owner_.stats.add(owner_.stats.in_msgs, 1);
  owner_.stats.add(owner_.stats.in_bytes, f.data.size());
  if (opts_.pedantic && !protocol::is_valid_literal_subject(f.subject)) {
    // nats-server reports it and still routes the message.
    send_err(protocol::client_error::invalid_publish_subject);
  }
  if (perms_ && perms_->restricts_publish() && !pub_cache_.allowed(*perms_, f.subject)) {
    spdlog::info("{}:{} - cid:{} - publish violation: subject \"{}\"", ip_, port_, id_, f.subject);
    send(protocol::publish_violation(f.subject), &owner_);
    return true;
  }
  if (!f.reply.empty() && reserved_reply(f.reply)) {
    send(protocol::reply_violation(f.reply), &owner_);
    return true;
  }
  if (opts_.verbose) send(ok_frame, &owner_);
  const std::size_t delivered = core_.route(&owner_, f, this);
  if (delivered == 0 && !f.reply.empty() && opts_.no_responders && opts_.headers) send_no_responders(f.reply);
  return true;
}

void connection::send_no_responders(std::string_view reply) {
  // Like nats-server: the 503 goes to this client's first plain subscription, in match order,
  // that matches the reply subject (its inbox), if it has one.
  match_ptr r = core_.subjects().match(reply);
  for (const subscription_ptr& s : r->plain) {
    if (s->target.get() == this && !s->closed.load(std::memory_order_acquire)) {
      send_msg(reply, s->sid, {}, no_responders_headers, {}, &owner_);
      return;
    }
  }
}

bool connection::on_info(std::string_view json) {
  // Servers ignore INFO from clients, but nats-server parses it and drops a client that sends
  // one that is not a JSON object.
  auto j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !(j.is_object() || j.is_null())) {
    close(close_reason::parse_error);
    return false;
  }
  return true;
}

bool connection::on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  if (perms_ && !perms_->can_subscribe(subject, queue)) {
    spdlog::info("{}:{} - cid:{} - subscription violation: subject \"{}\"", ip_, port_, id_, subject);
    send(protocol::subscribe_violation(subject, queue), &owner_);
    return true;
  }
  const int max_subs = core_.options().max_subscriptions;
  {
    std::lock_guard lock(subs_mu_);
    if (max_subs > 0 && subs_.size() >= static_cast<std::size_t>(max_subs)) {
      spdlog::info("{}:{} - cid:{} - maximum subscriptions exceeded", ip_, port_, id_);
      send_err(protocol::client_error::maximum_subscriptions_exceeded);
      return true;
    }
    if (subs_.find(sid) != subs_.end()) {
      // A reused sid is ignored; the first subscription stays (nats-server does the same).
      if (opts_.verbose) send(ok_frame, &owner_);
      return true;
    }
  }
  auto s = std::make_shared<subscription>(shared_from_this(), std::string(subject), std::string(queue),
                                          std::string(sid));
  if (!queue.empty() && !protocol::is_valid_subject(queue)) {
    send_err(protocol::client_error::invalid_subject);
    return true;
  }
  {
    std::lock_guard lock(subs_mu_);
    subs_.emplace(s->sid, s);
  }
  if (!core_.subjects().insert(s).is_ok()) {
    {
      std::lock_guard lock(subs_mu_);
      subs_.erase(s->sid);
    }
    send_err(protocol::client_error::invalid_subject);
    return true;
  }
  if (perms_ && perms_->needs_delivery_filter(subject)) deny_filter_.store(true, std::memory_order_release);
  if (opts_.verbose) send(ok_frame, &owner_);
  return true;
}

bool connection::on_unsub(std::string_view sid, std::int64_t max) {
  subscription_ptr s;
  {
    std::lock_guard lock(subs_mu_);
    auto it = subs_.find(sid);
    if (it != subs_.end()) s = it->second;
  }
  if (s) {
    if (max > 0 && static_cast<std::uint64_t>(max) > s->delivered.load(std::memory_order_relaxed)) {
      s->max.store(static_cast<std::uint64_t>(max), std::memory_order_relaxed);
    } else {
      auto_unsubscribe(*s);
    }
  }
  if (opts_.verbose) send(ok_frame, &owner_);
  return true;
}

void connection::auto_unsubscribe(subscription& s) {
  subscription_ptr held;
  {
    std::lock_guard lock(subs_mu_);
    auto it = subs_.find(s.sid);
    if (it == subs_.end() || it->second.get() != &s) return;
    held = it->second;
    subs_.erase(it);
  }
  held->closed.store(true, std::memory_order_release);
  core_.subjects().remove(held);
}

bool connection::on_ping() {
  send("PONG\r\n", &owner_);
  return true;
}

bool connection::on_pong() {
  pings_out_ = 0;
  if (!rtt_measured_ && rtt_start_.time_since_epoch().count() != 0) {
    rtt_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - rtt_start_)
                      .count(),
                  std::memory_order_relaxed);
    rtt_measured_ = true;
  }
  return true;
}

bool connection::on_err(std::string_view text) {
  spdlog::info("{}:{} - cid:{} - client sent -ERR {}", ip_, port_, id_, text);
  close(close_reason::protocol_violation);
  return false;
}

bool connection::deliver(subscription& s, const routed_message& m, worker* from) {
  if (deny_filter_.load(std::memory_order_acquire) && perms_->delivery_denied(m.frame.subject)) return false;
  if (closed_.load(std::memory_order_acquire) || s.closed.load(std::memory_order_relaxed)) return false;
  const std::uint64_t max = s.max.load(std::memory_order_relaxed);
  const std::uint64_t n = s.delivered.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max != 0 && n > max) return false;
  const bool last = max != 0 && n == max;
  const bool headers = client_headers_.load(std::memory_order_relaxed);
  std::size_t bytes = m.frame.data.size();
  if (!headers) bytes -= m.frame.header_size;
  std::size_t queued = 0;
  if (from != nullptr) {
    // Stage in the publisher's worker's buffer; flush() hands the batch over once.
    stage* st = stage_for(from);
    if (st == nullptr) return false;
    m.encoding.append(st->buf, s.sid, headers);
    ++st->msgs;
    st->bytes += bytes;
    queued = queued_.load(std::memory_order_relaxed) + st->buf.size();
    from->stats.add(from->stats.out_msgs, 1);
    from->stats.add(from->stats.out_bytes, bytes);
  } else {
    deliver_locked_path(s, m, headers, bytes, queued);
  }
  if (queued > max_pending_) {
    spdlog::warn("{}:{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded", ip_, port_, id_, max_pending_);
    core_.count_slow_consumer();
    close(close_reason::slow_consumer_pending);
    return true;
  }
  if (queued > stall_at_ && from != nullptr) from->note_congested(shared_from_this());
  if (last) auto_unsubscribe(s);
  return true;
}

connection_info connection::info(bool with_subs) const {
  connection_info i;
  i.cid = id_;
  i.ip = ip_;
  i.port = port_;
  i.start = start_time_;
  const auto idle = std::chrono::nanoseconds(steady_ns_now() - last_in_ns_.load(std::memory_order_relaxed));
  i.last_activity = std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(idle);
  i.rtt = std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  i.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  i.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  i.tls = use_tls_;
  {
    std::lock_guard lock(out_mu_);
    i.pending_bytes = queue_.size() + inflight_;  // staged bytes are flushed within a batch
    i.out_msgs = out_msgs_;
    i.out_bytes = out_bytes_;
  }
  {
    std::lock_guard lock(subs_mu_);
    i.num_subs = subs_.size();
    i.name = name_;
    i.lang = lang_;
    i.version = version_;
    if (with_subs) {
      for (const auto& [sid, s] : subs_) i.subs.push_back(s->subject);
    }
    i.user = user_;
  }
  return i;
}

}  // namespace ferry::broker
