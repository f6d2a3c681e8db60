#include "transport/kafka/consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "transport/kafka/codec.h"

namespace ferry::kafka::detail {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long max_in_flight may stay reached before the partitions are paused.
constexpr auto pause_after = 200ms;

// The settler of one delivery: records the settlement in the partition's window.
class kafka_settler final : public settler {
 public:
  kafka_settler(std::shared_ptr<shared> sh, std::shared_ptr<assigned_partition> part, std::int64_t offset,
                partition_window::delivery d, std::uint32_t count, std::string id, message_ptr raw)
      : sh_(std::move(sh)),
        part_(std::move(part)),
        offset_(offset),
        delivery_(d),
        count_(count),
        id_(std::move(id)),
        raw_(std::move(raw)) {}

  void ack() override { done(); }
  void term(std::string_view) override { done(); }

  void nack(std::chrono::milliseconds delay) override {
    if (raw_ && !sh_->retry_topic.empty()) {
      copy_to_retry_topic(delay);
    } else {
      rewind(delay);
    }
    sh_->slot_free();
  }

 private:
  void done() {
    bool unblocks = false;
    {
      std::lock_guard lock(sh_->mu);
      if (!part_->revoked && part_->window.settle(offset_, delivery_.serial)) {
        sh_->settled.notify_all();
        unblocks = part_->blocked > 0;
      }
    }
    if (unblocks) {
      sh_->unblocked.store(true);
      sh_->wake_up();
    }
    sh_->slot_free();
  }

  // Blocking mode: the partition goes back to this offset after `delay`.
  void rewind(std::chrono::milliseconds delay) {
    {
      std::lock_guard lock(sh_->mu);
      if (part_->revoked || !part_->window.rewind(offset_, delivery_.serial)) return;
      const auto at = steady::now() + delay;
      part_->resume_at = part_->resume_at ? std::max(*part_->resume_at, at) : at;
      sh_->settled.notify_all();
      if (part_->blocked > 0) sh_->unblocked.store(true);
    }
    sh_->wake_up();
  }

  // Retry-topic mode: the copy carries the next delivery's count and its due time; the original
  // counts as settled once the copy is stored (until then a crash redelivers the original).
  void copy_to_retry_topic(std::chrono::milliseconds delay) {
    const auto due = std::chrono::system_clock::now() + delay;
    auto sh = sh_;
    auto part = part_;
    const std::int64_t offset = offset_;
    const partition_window::delivery d = delivery_;
    sh_->out->send_copy(sh_->retry_topic, raw_.get(), retry_headers(raw_.get(), id_, count_ + 1, due),
                        [sh, part, offset, d](status s) {
                          std::lock_guard lock(sh->mu);
                          if (part->revoked) return;
                          if (s.is_ok()) {
                            part->window.settle(offset, d.serial);
                          } else {
                            spdlog::warn("kafka: copying {} [{}] @{} to {} failed ({}); redelivering it instead",
                                         part->topic, part->partition, offset, sh->retry_topic, s.to_string());
                            part->window.rewind(offset, d.serial);
                          }
                          sh->settled.notify_all();
                          if (!s.is_ok()) {
                            if (sh->wake != nullptr) rd_kafka_queue_yield(sh->wake);
                          }
                        });
  }

  const std::shared_ptr<shared> sh_;
  const std::shared_ptr<assigned_partition> part_;
  const std::int64_t offset_;
  const partition_window::delivery delivery_;
  const std::uint32_t count_;
  const std::string id_;
  const message_ptr raw_;  // retry-topic mode: what nack copies
};

}  // namespace

void shared::wake_up() {
  std::lock_guard lock(mu);
  if (wake != nullptr) rd_kafka_queue_yield(wake);
  room.notify_all();
}

void shared::slot_free() {
  in_flight.fetch_sub(1);
  if (waiting_for_room.load()) wake_up();
}

result<std::shared_ptr<consumer>> consumer::start(const std::string& bootstrap, const options& o,
                                                  std::shared_ptr<producer> p, config c) {
  std::shared_ptr<consumer> self(new consumer(o, std::move(c), std::move(p)));
  const config& cfg = self->config_;
  FERRY_ASSIGN_OR_RETURN(conf_ptr conf, make_conf(bootstrap, o, role::consumer));
  // Without a group nothing is committed and no group is joined; librdkafka's consumer API still
  // wants a group id.
  FERRY_RETURN_IF_ERROR(set(conf.get(), "group.id", cfg.group.empty() ? "ferry-unjoined-" + new_id() : cfg.group));
  if (!cfg.group.empty()) {
    rd_kafka_conf_set_rebalance_cb(conf.get(), &consumer::on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf.get(), &consumer::on_commit);
  }
  rd_kafka_conf_set_opaque(conf.get(), self.get());
  FERRY_ASSIGN_OR_RETURN(self->rk_, make_handle(std::move(conf), RD_KAFKA_CONSUMER));
  rd_kafka_poll_set_consumer(self->rk_);  // logs and callbacks are served by the consumer poll
  {
    std::lock_guard lock(self->sh_->mu);
    self->sh_->wake = rd_kafka_queue_get_consumer(self->rk_);
  }
  if (cfg.group.empty()) {
    FERRY_ASSIGN_OR_RETURN(auto ends, assign_from_end(self->rk_, cfg.topic, cfg.partitions, o.connect_timeout));
    for (std::size_t i = 0; i < cfg.partitions.size(); ++i) {
      const key k{cfg.topic, cfg.partitions[i]};
      self->parts_[k] = std::make_shared<assigned_partition>(cfg.topic, k.second, false);
      self->positions_[k].next = ends[i];
    }
  } else {
    partitions_ptr topics(rd_kafka_topic_partition_list_new(2));
    rd_kafka_topic_partition_list_add(topics.get(), cfg.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (!cfg.retry_topic.empty()) {
      rd_kafka_topic_partition_list_add(topics.get(), cfg.retry_topic.c_str(), RD_KAFKA_PARTITION_UA);
    }
    const rd_kafka_resp_err_t err = rd_kafka_subscribe(self->rk_, topics.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return from_rdkafka(err, "subscribing to " + cfg.topic);
  }
  self->next_commit_ = steady::now() + o.commit_interval;
  std::lock_guard lock(self->thread_mu_);
  self->thread_ = std::thread([keep = self] { keep->run(); });
  return self;
}

consumer::consumer(const options& o, config c, std::shared_ptr<producer> p)
    : options_(o),
      config_(std::move(c)),
      sh_(std::make_shared<shared>()),
      keep_key_order_(config_.retry_topic.empty()) {
  sh_->max_in_flight = std::max<std::size_t>(config_.subscription.max_in_flight, 1);
  sh_->nack = o.nack;
  sh_->retry_topic = config_.retry_topic;
  sh_->out = std::move(p);
}

consumer::~consumer() {
  stop();
  if (rk_ == nullptr) return;
  if (!closed_) shut_down();  // start() failed after the handle was made: the thread never ran
  rd_kafka_destroy(rk_);
}

void consumer::stop() {
  stopping_.store(true);
  sh_->wake_up();
  std::thread t;
  {
    std::lock_guard lock(thread_mu_);
    t = std::move(thread_);
  }
  if (!t.joinable()) return;
  if (t.get_id() == std::this_thread::get_id()) {
    t.detach();  // stopped from its own callback: it shuts down once the callback returns
  } else {
    t.join();
  }
}

void consumer::run() {
  while (!stopping_.load()) {
    act();
    deliver_unblocked();
    deliver_held();
    if (stopping_.load()) break;
    if (!room() && !paused_for_room_) {
      wait_for_room();
      continue;
    }
    rd_kafka_message_t* km = rd_kafka_consumer_poll(rk_, static_cast<int>(poll_timeout().count()));
    if (km == nullptr) continue;
    if (km->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka: subscription {}: {}", config_.topic, rd_kafka_message_errstr(km));
      rd_kafka_message_destroy(km);
      continue;
    }
    if (auto p = positions_.find({rd_kafka_topic_name(km->rkt), km->partition}); p != positions_.end()) {
      p->second.next = km->offset + 1;
    }
    if (room() && held_.empty()) {
      deliver(km);
    } else {
      held_.push_back(km);  // polled just before the partitions were paused: delivered once there is room
    }
  }
  shut_down();
}

void consumer::shut_down() {
  closing_ = true;
  for (rd_kafka_message_t* km : held_) rd_kafka_message_destroy(km);
  held_.clear();
  for (auto& [k, q] : blocked_) {
    for (rd_kafka_message_t* km : q) rd_kafka_message_destroy(km);
  }
  blocked_.clear();
  blocked_count_ = 0;
  // Leaving the group revokes every partition: revoked() commits what was settled (without a
  // group this only unassigns).
  rd_kafka_consumer_close(rk_);
  closed_ = true;
  std::lock_guard lock(sh_->mu);
  for (auto& [k, part] : parts_) part->revoked = true;
  parts_.clear();
  if (sh_->wake != nullptr) rd_kafka_queue_destroy(std::exchange(sh_->wake, nullptr));
}

std::chrono::milliseconds consumer::poll_timeout() const {
  auto until = config_.group.empty() ? steady::now() + 1s : next_commit_;
  if (full_since_ && !paused_for_room_) until = std::min(until, *full_since_ + pause_after);
  {
    std::lock_guard lock(sh_->mu);
    for (const auto& [k, part] : parts_) {
      if (part->resume_at) until = std::min(until, *part->resume_at);
    }
  }
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - steady::now());
  return std::clamp(left, 0ms, std::chrono::milliseconds(1000));
}

void consumer::wait_for_room() {
  const auto until = std::min(*full_since_ + pause_after, next_commit_);
  std::unique_lock lock(sh_->mu);
  sh_->room.wait_until(lock, until, [&] {
    if (room() || stopping_.load() || sh_->unblocked.load()) return true;
    return std::any_of(parts_.begin(), parts_.end(),
                       [](const auto& p) { return p.second->window.pending_rewind().has_value(); });
  });
}

void consumer::act() {
  const auto now = steady::now();
  // The settler frees a slot and then reads waiting_for_room; this sets it and then reads the
  // slots again: one of the two sees the other, so no wake-up is lost.
  sh_->waiting_for_room.store(true);
  const bool full = !room();
  sh_->waiting_for_room.store(full);
  if (!full) {
    full_since_.reset();
  } else if (!full_since_) {
    full_since_ = now;
  }
  paused_for_room_ = full && now - *full_since_ >= pause_after;
  partitions_ptr pause(rd_kafka_topic_partition_list_new(0)), resume(rd_kafka_topic_partition_list_new(0)),
      seek(rd_kafka_topic_partition_list_new(0));
  std::vector<std::pair<key, std::int64_t>> rewound;
  {
    std::lock_guard lock(sh_->mu);
    for (auto& [k, part] : parts_) {
      position& pos = positions_[k];
      if (auto to = part->window.take_rewind()) {
        pos.seek_to = pos.seek_to ? std::min(*pos.seek_to, *to) : *to;
        rewound.emplace_back(k, *to);
      }
      if (part->resume_at && *part->resume_at <= now) part->resume_at.reset();
      const bool want = paused_for_room_ || part->resume_at.has_value();
      if (want && !pos.paused) rd_kafka_topic_partition_list_add(pause.get(), k.first.c_str(), k.second);
      if (!want && pos.paused) {
        rd_kafka_topic_partition_list_add(resume.get(), k.first.c_str(), k.second);
        // A seek wakes the partition's broker thread, which librdkafka 2.0 leaves asleep on a resume.
        if (!pos.seek_to) pos.seek_to = pos.next;
      }
      pos.paused = want;
      if (!want && pos.seek_to) {
        rd_kafka_topic_partition_list_add(seek.get(), k.first.c_str(), k.second)->offset = *pos.seek_to;
        pos.next = std::exchange(pos.seek_to, std::nullopt);
      }
    }
  }
  // What was polled but not delivered comes again after the seek back.
  for (const auto& [k, offset] : rewound) {
    std::erase_if(held_, [&](rd_kafka_message_t* km) {
      const bool drop = km->partition == k.second && km->offset >= offset && k.first == rd_kafka_topic_name(km->rkt);
      if (drop) rd_kafka_message_destroy(km);
      return drop;
    });
    drop_blocked(k, offset);
  }
  if (pause->cnt > 0) rd_kafka_pause_partitions(rk_, pause.get());
  if (resume->cnt > 0) rd_kafka_resume_partitions(rk_, resume.get());
  if (seek->cnt > 0) {
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, seek.get(), 5000)) {
      spdlog::warn("kafka: subscription {}: seeking: {}", config_.topic, rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  }
  if (!config_.group.empty() && now >= next_commit_) {
    std::vector<std::shared_ptr<assigned_partition>> all;
    for (auto& [k, part] : parts_) all.push_back(part);
    commit(false, all);
    next_commit_ = now + options_.commit_interval;
  }
}

void consumer::deliver_held() {
  while (!held_.empty() && room() && !stopping_.load()) {
    rd_kafka_message_t* km = held_.front();
    held_.pop_front();
    deliver(km);
  }
}

void consumer::deliver_unblocked() {
  if (!sh_->unblocked.exchange(false)) return;
  for (auto& [k, q] : blocked_) {
    auto part = parts_.find(k);
    if (part == parts_.end()) continue;
    std::set<std::string, std::less<>> waiting;  // keys with an earlier message still kept back
    for (auto it = q.begin(); it != q.end() && !stopping_.load();) {
      rd_kafka_message_t* km = *it;
      const std::string_view key(static_cast<const char*>(km->key), km->key_len);
      bool busy = waiting.contains(key);
      if (!busy) {
        std::lock_guard lock(sh_->mu);
        busy = part->second->window.busy(key);
        if (!busy) --part->second->blocked;
      }
      if (busy) {
        waiting.emplace(key);
        ++it;
        continue;
      }
      it = q.erase(it);
      --blocked_count_;
      deliver(km, true);  // its key is free: delivered, not kept back again
    }
  }
}

void consumer::drop_blocked(const key& k, std::int64_t from) {
  auto q = blocked_.find(k);
  if (q == blocked_.end()) return;
  auto part = parts_.find(k);
  std::erase_if(q->second, [&](rd_kafka_message_t* km) {
    if (km->offset < from) return false;
    rd_kafka_message_destroy(km);
    --blocked_count_;
    if (part != parts_.end()) {
      std::lock_guard lock(sh_->mu);
      --part->second->blocked;
    }
    return true;
  });
}

void consumer::deliver(rd_kafka_message_t* raw, bool released) {
  message_ptr km(raw);
  const key k{rd_kafka_topic_name(km->rkt), km->partition};
  auto it = parts_.find(k);
  if (it == parts_.end()) return;  // from a partition let go meanwhile
  const std::shared_ptr<assigned_partition>& part = it->second;
  message m;
  const bookkeeping bk = from_kafka(km.get(), config_.topic, m);
  const std::string_view order_key = keep_key_order_ ? std::string_view(m.key) : std::string_view();
  std::optional<partition_window::delivery> d;
  {
    std::lock_guard lock(sh_->mu);
    if (part->retry && bk.not_before && *bk.not_before > std::chrono::system_clock::now()) {
      // A retry copy that is not due: the partition waits for it (the copies are in due order,
      // near enough: a longer delay ahead of a shorter one delays it, never the reverse).
      part->window.rewind_to(km->offset);
      part->resume_at = steady::now() +
                        std::chrono::ceil<std::chrono::milliseconds>(*bk.not_before - std::chrono::system_clock::now());
      return;
    }
    if (!order_key.empty() && !released) {
      auto q = blocked_.find(k);
      const bool behind = q != blocked_.end() && std::any_of(q->second.begin(), q->second.end(), [&](auto* b) {
                            return std::string_view(static_cast<const char*>(b->key), b->key_len) == order_key;
                          });
      if (behind || part->window.busy(order_key)) {
        if (part->window.hold(km->offset)) {
          ++part->blocked;
          ++blocked_count_;
          blocked_[k].push_back(km.release());
        }
        return;
      }
    }
    d = part->window.fetched(km->offset, order_key);
  }
  if (!d) return;  // settled before a rewind, or past a rewind still owed
  const std::uint32_t count = bk.delivery_count.value_or(1) + d->count - 1;
  const std::uint32_t max_deliver = config_.subscription.max_deliver;
  if (max_deliver > 0 && count > max_deliver) {
    spdlog::warn("kafka: {} [{}] @{} (id {}) reached max_deliver {}: not delivered again", part->topic, part->partition,
                 km->offset, m.id, max_deliver);
    std::lock_guard lock(sh_->mu);
    part->window.settle(km->offset, d->serial);
    return;
  }
  m.delivery.delivery_count = count;
  m.delivery.redelivered = count > 1;
  const std::int64_t offset = km->offset;
  std::string id = m.id;
  message_ptr keep = sh_->retry_topic.empty() ? nullptr : std::move(km);
  m.attach(std::make_unique<kafka_settler>(sh_, part, offset, *d, count, std::move(id), std::move(keep)));
  sh_->in_flight.fetch_add(1);
  config_.callback(std::move(m));
}

void consumer::commit(bool sync, const std::vector<std::shared_ptr<assigned_partition>>& parts) {
  partitions_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  {
    std::lock_guard lock(sh_->mu);
    for (const auto& part : parts) {
      if (part->revoked) continue;
      if (auto pos = part->window.commit_position()) {
        rd_kafka_topic_partition_list_add(list.get(), part->topic.c_str(), part->partition)->offset = *pos;
        part->window.committed(*pos);
      }
    }
  }
  if (list->cnt == 0) return;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.get(), sync ? 0 : 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) on_commit(rk_, err, list.get(), this);
}

void consumer::on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  auto* self = static_cast<consumer*>(opaque);
  spdlog::warn("kafka: group {}: committing offsets of {} failed: {} (committed again later)", self->config_.group,
               self->config_.topic, rd_kafka_err2str(err));
  std::lock_guard lock(self->sh_->mu);
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    auto it = self->parts_.find({offsets->elems[i].topic, offsets->elems[i].partition});
    if (it != self->parts_.end()) it->second->window.committed(-1);  // differs from any position: retried
  }
}

void consumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                            void* opaque) {
  auto* self = static_cast<consumer*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rd_kafka_error_t* e = nullptr;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->assigned(parts);
    if (cooperative) {
      e = rd_kafka_incremental_assign(rk, parts);
    } else {
      rd_kafka_assign(rk, parts);
    }
  } else {
    self->revoked(parts, rd_kafka_assignment_lost(rk) != 0);
    if (cooperative) {
      e = rd_kafka_incremental_unassign(rk, parts);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
  if (e != nullptr) {
    spdlog::warn("kafka: group {}: rebalance: {}", self->config_.group, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
}

void consumer::assigned(const rd_kafka_topic_partition_list_t* parts) {
  std::lock_guard lock(sh_->mu);
  for (int i = 0; i < parts->cnt; ++i) {
    const std::string topic = parts->elems[i].topic;
    const key k{topic, parts->elems[i].partition};
    parts_[k] = std::make_shared<assigned_partition>(topic, k.second, topic == config_.retry_topic);
    positions_[k] = position{};
  }
  spdlog::debug("kafka: group {}: {} partition(s) of {} assigned", config_.group, parts->cnt, config_.topic);
}

void consumer::revoked(const rd_kafka_topic_partition_list_t* parts, bool lost) {
  std::vector<std::shared_ptr<assigned_partition>> going;
  for (int i = 0; i < parts->cnt; ++i) {
    auto it = parts_.find({parts->elems[i].topic, parts->elems[i].partition});
    if (it != parts_.end()) going.push_back(it->second);
  }
  if (!lost && !closing_) {
    // Let the handlers finish what they hold of these partitions, up to revoke_timeout.
    std::unique_lock lock(sh_->mu);
    sh_->settled.wait_for(lock, options_.revoke_timeout, [&] {
      return std::all_of(going.begin(), going.end(), [](const auto& p) { return p->window.unsettled() == 0; });
    });
  }
  if (!lost) commit(true, going);
  for (const auto& part : going) {
    const key k{part->topic, part->partition};
    drop_blocked(k, 0);
    blocked_.erase(k);
    {
      std::lock_guard lock(sh_->mu);
      part->revoked = true;  // a settlement from now on is not committed here: the next owner redelivers
    }
    parts_.erase(k);
    positions_.erase(k);
    std::erase_if(held_, [&](rd_kafka_message_t* km) {
      const bool drop = km->partition == part->partition && part->topic == rd_kafka_topic_name(km->rkt);
      if (drop) rd_kafka_message_destroy(km);
      return drop;
    });
  }
  spdlog::debug("kafka: group {}: {} partition(s) of {} revoked{}", config_.group, parts->cnt, config_.topic,
                lost ? " (lost)" : "");
}

}  // namespace ferry::kafka::detail
