#include "transport/redis/stream_reader.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "transport/redis/codec.h"

namespace ferry::redis::detail {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The entries of a XREAD/XREADGROUP reply for one stream ([[stream, [entry...]]]), or nullptr.
const redisReply* entries_of(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return nullptr;
  const redisReply* s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY) return nullptr;
  return s->element[1];
}

}  // namespace

// --- settler ---

void redis_settler::start(std::shared_ptr<settlements> owner, entry_key id, std::uint32_t count) {
  reset();
  owner_ = std::move(owner);
  id_ = id;
  count_ = count;
}

void redis_settler::release() {
  // `keep` may be the last reference to the pool, which owns this settler: nothing touches `this`
  // after give_back().
  const std::shared_ptr<settlements> keep = std::move(owner_);
  keep->pool.give_back(this);
}

void redis_settler::ack() { owner_->settled(id_, true); }

void redis_settler::nack(std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(owner_->mu);
    owner_->retries.push_back({id_.str(), steady::now() + delay, delay, count_});
  }
  owner_->settled(id_, false);
}

void redis_settler::in_progress() {
  std::lock_guard lock(owner_->mu);
  owner_->touches.push_back(id_);
}

void settlements::settled(entry_key id, bool ack) {
  {
    // Under the lock: the thread checks for room under it before it sleeps.
    std::lock_guard lock(mu);
    if (ack) acks.push_back(id);
    if (auto it = std::find(in_flight_ids.begin(), in_flight_ids.end(), id); it != in_flight_ids.end()) {
      *it = in_flight_ids.back();
      in_flight_ids.pop_back();
    }
    in_flight.fetch_sub(1);
  }
  wake.notify_one();
}

bool settlements::hold(entry_key id) {
  if (std::find(in_flight_ids.begin(), in_flight_ids.end(), id) != in_flight_ids.end()) return false;
  in_flight_ids.push_back(id);
  return true;
}

// --- reader ---

result<std::shared_ptr<stream_reader>> stream_reader::start(const std::string& address, const options& o, config c) {
  std::shared_ptr<stream_reader> self(new stream_reader(address, o, std::move(c)));
  const config& cfg = self->config_;
  FERRY_ASSIGN_OR_RETURN(self->conn_,
                         connection::open(address, o, "ferry-" + (cfg.group.empty() ? cfg.stream : cfg.consumer)));
  self->conn_->set_read_timeout(o.block + o.connect_timeout);
  self->reads_.connected(*self->conn_);
  if (cfg.group.empty()) {
    // Everything after the stream's last entry now: what is published once subscribe() returns.
    args a;
    a.add("XREVRANGE").add(cfg.stream).add("+").add("-").add("COUNT").add("1");
    FERRY_ASSIGN_OR_RETURN(reply r, self->conn_->run(a));
    self->last_id_ = r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? std::string(entry_id(r->element[0])) : "0-0";
  } else {
    FERRY_RETURN_IF_ERROR(self->create_group());
  }
  self->next_reclaim_ = steady::now() + std::clamp(cfg.subscription.ack_wait / 2, 100ms, 5000ms);
  self->thread_.start(self, &stream_reader::run);
  return self;
}

stream_reader::stream_reader(const std::string& address, const options& o, config c)
    : options_(o),
      config_(std::move(c)),
      s_(std::make_shared<settlements>()),
      reads_(address, o),
      history_(!config_.group.empty()) {}

stream_reader::~stream_reader() { stop(); }

status stream_reader::create_group() {
  args a;
  a.add("XGROUP").add("CREATE").add(config_.stream).add(config_.group);
  a.add(options_.start == group_start::beginning ? "0" : "$").add("MKSTREAM");
  auto r = conn_->run(a);
  if (!r.is_ok() && r.status().message().find("BUSYGROUP") == std::string::npos) return r.status();
  return status::ok();  // created, or there already
}

void stream_reader::request_stop() {
  reads_.stop();
  // Between the waiter's test of stopping() and its sleep, a notify would be lost: the lock
  // orders it before the test or after the sleep began.
  { std::lock_guard lock(s_->mu); }
  s_->wake.notify_all();
}

void stream_reader::stop() {
  request_stop();
  thread_.join();
}

std::size_t stream_reader::room() const {
  const std::size_t max = std::max<std::size_t>(config_.subscription.max_in_flight, 1);
  const std::size_t used = s_->in_flight.load();
  return used >= max ? 0 : max - used;
}

void stream_reader::run() {
  pthread_setname_np(pthread_self(), "ferry-redis-sub");
  while (!reads_.stopping()) {
    status st = round();
    if (st.is_ok()) {
      backoff_ = 0ms;
      continue;
    }
    if (reads_.stopping()) break;
    const bool no_group = !config_.group.empty() && st.message().find("NOGROUP") != std::string::npos;
    if (no_group) {
      spdlog::warn("redis: subscription {}: the group is gone ({}); creating it again", config_.stream, st.message());
    } else {
      backoff_ = std::clamp(backoff_ * 2, 100ms, 2000ms);
      spdlog::warn("redis: subscription {}: {}; reconnecting in {} ms", config_.stream, st.to_string(),
                   backoff_.count());
      std::unique_lock lock(s_->mu);
      s_->wake.wait_for(lock, backoff_, [&] { return reads_.stopping(); });
    }
    // Always a new connection: a round cut short by an error reply leaves the replies of the
    // commands pipelined after it unread, and each would answer the next command in place of its
    // own.
    if (!conn_->reconnect().is_ok()) continue;
    reads_.connected(*conn_);
    if (no_group) (void)create_group();
    if (!config_.group.empty()) {
      history_ = true;  // its pending entries first: what was read but not acknowledged
      history_from_ = "0";
    }
  }
  finish();
}

std::vector<settlements::retry> stream_reader::take_due(std::size_t max) {
  std::vector<settlements::retry> due;
  const auto now = steady::now();
  std::lock_guard lock(s_->mu);
  for (auto it = s_->retries.begin(); it != s_->retries.end() && due.size() < max;) {
    if (it->due > now) {
      ++it;
      continue;
    }
    due.push_back(std::move(*it));
    it = s_->retries.erase(it);
  }
  return due;
}

status stream_reader::round() {
  acks_.clear();
  touches_.clear();
  {
    std::lock_guard lock(s_->mu);
    acks_.swap(s_->acks);
    touches_.swap(s_->touches);
  }
  // A claimed retry takes a slot again: no more than there is room for.
  std::vector<settlements::retry> due = take_due(room());
  std::size_t claimed = 0;
  if (status s = settle(due, claimed); !s.is_ok()) {
    recounts_.clear();  // not sent again later: by then another member may own the entry
    // Sent again on the next connection (an XACK or XCLAIM JUSTID twice does no harm): a lost
    // ack would have the entry handled twice, a lost touch let another member take it.
    std::lock_guard lock(s_->mu);
    s_->acks.insert(s_->acks.end(), acks_.begin(), acks_.end());
    s_->touches.insert(s_->touches.end(), touches_.begin(), touches_.end());
    s_->retries.insert(s_->retries.end(), std::make_move_iterator(due.begin() + static_cast<std::ptrdiff_t>(claimed)),
                       std::make_move_iterator(due.end()));
    return s;
  }
  return read();
}

status stream_reader::settle(const std::vector<settlements::retry>& due, std::size_t& claimed) {
  const bool grouped = !config_.group.empty();
  // Queue what the settlers recorded; the replies are read below, in the same round trip as the
  // read that follows.
  int queued_acks = 0;
  args a;
  if (grouped && !acks_.empty()) {
    a.add("XACK").add(config_.stream).add(config_.group);
    add_ids(acks_, a);
    FERRY_RETURN_IF_ERROR(conn_->append(a));
    ++queued_acks;
  }
  args t;
  if (grouped && !touches_.empty()) {
    t.add("XCLAIM").add(config_.stream).add(config_.group).add(config_.consumer).add("0");
    for (const entry_key& id : touches_) t.add_owned(id.str());
    t.add("JUSTID");
    FERRY_RETURN_IF_ERROR(conn_->append(t));
    ++queued_acks;
  }
  for (const auto& [id, count] : recounts_) {
    // A retry claimed in this round counts for itself (and a claim here first would reset the
    // idle time its minimum is measured against).
    if (std::any_of(due.begin(), due.end(), [&](const settlements::retry& d) { return d.id == id.str(); })) continue;
    args r;
    recount(id, count, r);
    FERRY_RETURN_IF_ERROR(conn_->append(r));
    ++queued_acks;
  }
  std::vector<args> claims(due.size());
  for (std::size_t i = 0; i < due.size(); ++i) {
    const settlements::retry& r = due[i];
    args& c = claims[i];
    if (grouped) {
      // Only if nobody took it meanwhile: it has been idle at least (about) as long as the delay.
      const auto min_idle = std::max<std::int64_t>(r.delay.count() - 50, 0);
      c.add("XCLAIM").add(config_.stream).add(config_.group).add(config_.consumer).add(std::to_string(min_idle));
      c.add(r.id);
    } else {
      c.add("XRANGE").add(config_.stream).add(r.id).add(r.id);
    }
    FERRY_RETURN_IF_ERROR(conn_->append(c));
  }
  for (int i = 0; i < queued_acks; ++i) FERRY_RETURN_IF_ERROR(conn_->next_reply().status());
  recounts_.clear();
  for (; claimed < due.size(); ++claimed) {
    FERRY_ASSIGN_OR_RETURN(reply entries, conn_->next_reply());
    if (entries->type != REDIS_REPLY_ARRAY) continue;
    for (std::size_t i = 0; i < entries->elements && !reads_.stopping(); ++i) {
      deliver(entries->element[i], due[claimed].count + 1);
    }
  }
  return status::ok();
}

status stream_reader::read() {
  const bool grouped = !config_.group.empty();
  args a;
  // Entries other members left pending for longer than ack_wait.
  const auto now = steady::now();
  if (grouped && !history_ && now >= next_reclaim_ && room() > 0) {
    next_reclaim_ = now + std::clamp(config_.subscription.ack_wait / 2, 100ms, 5000ms);
    a.add("XAUTOCLAIM").add(config_.stream).add(config_.group).add(config_.consumer);
    a.add(static_cast<std::uint64_t>(config_.subscription.ack_wait.count())).add(reclaim_cursor_);
    a.add("COUNT").add(static_cast<std::uint64_t>(room()));
    FERRY_ASSIGN_OR_RETURN(reply r, conn_->run(a));
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
      reclaim_cursor_ = text(r->element[0]);
      FERRY_ASSIGN_OR_RETURN(auto counts, counts_of(r->element[1]));
      FERRY_RETURN_IF_ERROR(deliver_entries(r->element[1], counts));
    }
  }

  std::size_t n = room();
  if (n == 0) {
    // Wait for a settlement (or a retry that comes due), not for the stream.
    std::unique_lock lock(s_->mu);
    auto until = steady::now() + options_.block;
    for (const auto& r : s_->retries) until = std::min(until, r.due);
    s_->wake.wait_until(lock, until, [&] { return room() > 0 || reads_.stopping(); });
    return status::ok();
  }
  auto block = options_.block;
  {
    std::lock_guard lock(s_->mu);
    for (const auto& r : s_->retries) {
      block = std::min(block, std::chrono::ceil<std::chrono::milliseconds>(r.due - steady::now()));
    }
  }
  block = std::max(block, 1ms);
  a.clear();
  if (grouped) {
    a.add("XREADGROUP").add("GROUP").add(config_.group).add(config_.consumer).add("COUNT").add(n);
    if (!history_) a.add("BLOCK").add(static_cast<std::uint64_t>(block.count()));
    a.add("STREAMS").add(config_.stream).add(history_ ? std::string_view(history_from_) : std::string_view(">"));
  } else {
    a.add("XREAD").add("COUNT").add(n).add("BLOCK").add(static_cast<std::uint64_t>(block.count()));
    a.add("STREAMS").add(config_.stream).add(last_id_);
  }
  // A group's history read does not block.
  FERRY_ASSIGN_OR_RETURN(reply r, grouped && history_ ? conn_->run(a) : reads_.run(*conn_, a));
  const redisReply* entries = entries_of(r.get());
  if (history_) {
    if (entries == nullptr || entries->elements == 0) {
      history_ = false;  // its own pending entries are all back: new ones from now on
      return status::ok();
    }
    history_from_ = entry_id(entries->element[entries->elements - 1]);
    FERRY_ASSIGN_OR_RETURN(auto counts, counts_of(entries));
    return deliver_entries(entries, counts);
  }
  if (entries == nullptr) return status::ok();
  if (!grouped && entries->elements > 0) last_id_ = entry_id(entries->element[entries->elements - 1]);
  return deliver_entries(entries, std::vector<std::uint32_t>(entries->elements, 1));
}

result<std::vector<std::uint32_t>> stream_reader::counts_of(const redisReply* entries) {
  // Entries taken over or read back were delivered before: 2 at least, unless Redis tells more.
  std::vector<std::uint32_t> out(entries->elements, 2);
  if (entries->elements == 0) return out;
  std::map<std::string_view, std::size_t> wanted;  // id -> index in `entries`
  for (std::size_t i = 0; i < entries->elements; ++i) wanted.emplace(entry_id(entries->element[i]), i);
  // This member's other pending entries between the first id and the last come back too (ones in
  // its handlers, nacked ones): page through the range until every id was seen.
  std::string from(entry_id(entries->element[0]));
  const std::string to(entry_id(entries->element[entries->elements - 1]));
  const std::uint64_t page = std::max<std::uint64_t>(entries->elements, 64);
  while (!wanted.empty()) {
    args a;
    a.add("XPENDING").add(config_.stream).add(config_.group).add(from).add(to).add(page).add(config_.consumer);
    FERRY_ASSIGN_OR_RETURN(reply r, conn_->run(a));
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) break;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[3]->type != REDIS_REPLY_INTEGER) continue;
      if (auto it = wanted.find(text(e->element[0])); it != wanted.end()) {
        out[it->second] = static_cast<std::uint32_t>(e->element[3]->integer);
        wanted.erase(it);
      }
    }
    if (r->elements < page) break;
    from = "(" + std::string(text(r->element[r->elements - 1]->element[0]));  // after the last one seen
  }
  return out;
}

void stream_reader::recount(const entry_key& id, std::uint32_t count, args& r) const {
  // JUSTID: this claim counts nothing itself.
  r.add("XCLAIM").add(config_.stream).add(config_.group).add(config_.consumer).add("0").add_owned(id.str());
  r.add("RETRYCOUNT").add(static_cast<std::uint64_t>(count)).add("JUSTID");
}

void stream_reader::add_ids(const std::vector<entry_key>& ids, args& a) {
  // One buffer for all the ids, sized first so that the views into it stay valid.
  id_text_.clear();
  id_text_.reserve(ids.size() * 42);
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  spans.reserve(ids.size());
  for (const entry_key& id : ids) {
    const std::size_t at = id_text_.size();
    id.append_to(id_text_);
    spans.emplace_back(at, id_text_.size() - at);
  }
  for (const auto& [at, len] : spans) a.add(std::string_view(id_text_).substr(at, len));
}

status stream_reader::deliver_entries(const redisReply* entries, const std::vector<std::uint32_t>& counts) {
  for (std::size_t i = 0; i < entries->elements && !reads_.stopping(); ++i) deliver(entries->element[i], counts[i]);
  return status::ok();
}

void stream_reader::deliver(const redisReply* entry, std::uint32_t count) {
  // XCLAIM and XAUTOCLAIM leave out entries deleted (trimmed) meanwhile; older servers answered nil.
  if (entry == nullptr || entry->type != REDIS_REPLY_ARRAY || entry->elements < 2) return;
  const std::string_view id = entry_id(entry);
  const entry_key key = entry_key::parse(id);
  if (entry->element[1]->type != REDIS_REPLY_ARRAY) {
    // A pending entry trimmed away (MAXLEN) comes back from a history read as [id, nil]: there is
    // nothing to deliver, and it leaves the pending list.
    if (!config_.group.empty()) {
      std::lock_guard lock(s_->mu);
      s_->acks.push_back(key);
    }
    spdlog::warn("redis: {} entry {} was pending but is gone from the stream (trimmed): not delivered", config_.stream,
                 id);
    return;
  }
  {
    std::lock_guard lock(s_->mu);
    if (!s_->hold(key)) {
      // A handler here still has it: this member's own XAUTOCLAIM (its handler is slower than
      // ack_wait) or history read took it back, and Redis counted a delivery that was none.
      if (!config_.group.empty() && count > 1) recounts_.emplace_back(key, count - 1);
      return;
    }
  }
  s_->in_flight.fetch_add(1);
  const std::uint32_t max_deliver = config_.subscription.max_deliver;
  if (!config_.group.empty() && max_deliver > 0 && count > max_deliver) {
    spdlog::warn("redis: {} entry {} reached max_deliver {}: acknowledged without delivering it", config_.stream, id,
                 max_deliver);
    s_->settled(key, true);
    return;
  }
  message m;
  (void)from_entry(entry, config_.stream, m);
  m.delivery.delivery_count = count;
  m.delivery.redelivered = count > 1;
  redis_settler* st = s_->pool.take();
  st->start(s_, key, count);
  m.attach(st);
  config_.callback(std::move(m));
}

void stream_reader::finish() {
  if (config_.group.empty() || conn_->broken()) return;
  // What was acknowledged reaches Redis before the subscription ends: a graceful stop must not
  // leave handled entries pending (they would be handled twice).
  acks_.clear();
  {
    std::lock_guard lock(s_->mu);
    acks_.swap(s_->acks);
  }
  if (!acks_.empty()) {
    args a;
    a.add("XACK").add(config_.stream).add(config_.group);
    add_ids(acks_, a);
    (void)conn_->run(a);
  }
  // Counters set back that the last round did not send: the entries stay pending for others.
  for (const auto& [id, count] : recounts_) {
    args r;
    recount(id, count, r);
    (void)conn_->run(r);
  }
  recounts_.clear();
  // The consumer name goes only when it holds nothing: its pending entries stay visible for
  // XAUTOCLAIM by the others (or for this name after a restart).
  args p;
  p.add("XPENDING").add(config_.stream).add(config_.group).add("-").add("+").add("1").add(config_.consumer);
  auto pending = conn_->run(p);
  if (pending.is_ok() && (*pending)->type == REDIS_REPLY_ARRAY && (*pending)->elements == 0) {
    args d;
    d.add("XGROUP").add("DELCONSUMER").add(config_.stream).add(config_.group).add(config_.consumer);
    (void)conn_->run(d);
  }
}

}  // namespace ferry::redis::detail
