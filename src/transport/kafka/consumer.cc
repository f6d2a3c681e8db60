// The subscription's thread: start and stop, the poll loop, pauses and seeks, and delivery.
#include "transport/kafka/consumer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <set>

#include "transport/kafka/codec.h"

namespace ferry::kafka::detail {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long max_in_flight may stay reached before the partitions are paused.
constexpr auto pause_after = 200ms;
// How long a partition whose seek back failed waits before the next try.
constexpr auto seek_retry = 100ms;

std::string_view key_of(const rd_kafka_message_t* km) {
  return {static_cast<const char*>(km->key), km->key == nullptr ? 0 : km->key_len};
}

}  // namespace

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
    std::lock_guard lock(self->d_->mu);
    self->d_->wake = rd_kafka_queue_get_consumer(self->rk_);
  }
  self->queue_ = rd_kafka_queue_get_consumer(self->rk_);
  if (cfg.group.empty()) {
    FERRY_ASSIGN_OR_RETURN(auto ends, assign_from_end(self->rk_, cfg.topic, cfg.partitions, o.connect_timeout));
    for (std::size_t i = 0; i < cfg.partitions.size(); ++i) self->add_partition(cfg.topic, cfg.partitions[i], ends[i]);
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
  self->thread_.start(self, &consumer::run);
  return self;
}

consumer::consumer(const options& o, config c, std::shared_ptr<producer> p)
    : options_(o),
      config_(std::move(c)),
      d_(std::make_shared<deliveries>()),
      keep_key_order_(config_.retry_topic.empty()) {
  d_->max_in_flight = std::max<std::size_t>(config_.subscription.max_in_flight, 1);
  d_->retry_topic = config_.retry_topic;
  d_->out = std::move(p);
}

consumer::~consumer() {
  stop();
  if (rk_ == nullptr) return;
  if (!closed_) shut_down();  // start() failed after the handle was made: the thread never ran
  destroy_consumer(rk_, config_.topic);
}

void consumer::stop() {
  stopping_.store(true);
  d_->wake_up();
  thread_.join();
}

void consumer::run() {
  pthread_setname_np(pthread_self(), "ferry-kafka-sub");
  std::array<rd_kafka_message_t*, max_batch> batch{};
  while (!stopping_.load()) {
    const auto now = steady::now();
    act(now);
    deliver_unblocked();
    deliver_held();
    if (stopping_.load()) break;
    if (!room() && !paused_for_room_) {
      wait_for_room();
      continue;
    }
    const std::size_t n = poll(batch, now);
    for (std::size_t i = 0; i < n; ++i) take(batch[i]);
  }
  shut_down();
}

std::size_t consumer::poll(std::array<rd_kafka_message_t*, max_batch>& batch, steady::time_point now) {
  // The first message is waited for; the rest of the batch is only what librdkafka holds already
  // (a batch call with a timeout would wait for a full batch). One call for many messages spares
  // librdkafka's per-call work (its clock reads, the poll-interval bookkeeping, the queue lock).
  // Messages of a partition that a rebalance inside the call took away, or that a seek made
  // outdated, are removed by librdkafka itself (its version barriers); find() drops the rest.
  batch[0] = rd_kafka_consumer_poll(rk_, static_cast<int>(poll_timeout(now).count()));
  if (batch[0] == nullptr) return 0;
  const std::size_t free = d_->max_in_flight - std::min(d_->max_in_flight, d_->in_flight.load() + blocked_count_);
  const std::size_t want = std::clamp<std::size_t>(free, 1, max_batch);
  if (want == 1) return 1;
  const ssize_t more = rd_kafka_consume_batch_queue(queue_, 0, batch.data() + 1, want - 1);
  return 1 + static_cast<std::size_t>(std::max<ssize_t>(more, 0));
}

void consumer::take(rd_kafka_message_t* km) {
  if (km->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka: subscription {}: {}", config_.topic, rd_kafka_message_errstr(km));
    rd_kafka_message_destroy(km);
    return;
  }
  if (partition_state* p = find(km)) p->next = km->offset + 1;
  if (room() && held_.empty() && !stopping_.load(std::memory_order_relaxed)) {
    deliver(km);
  } else {
    held_.push_back(km);  // no room (or polled just before the partitions were paused): delivered once there is
  }
}

void consumer::shut_down() {
  closing_ = true;
  for (rd_kafka_message_t* km : held_) rd_kafka_message_destroy(km);
  held_.clear();
  for (auto& [k, p] : parts_) drop_undelivered(p, 0);
  // librdkafka 2.0 (Debian 12's) aborts in rd_kafka_destroy when a cooperative-sticky member
  // leaves between its JoinGroup and SyncGroup responses (assertion `assignor_state`,
  // confluentinc/librdkafka#4312, fixed in 2.3): a member that joined but was never assigned
  // anything waits a while for its assignment first. Nothing is delivered meanwhile (closing_).
  if (!config_.group.empty() && !ever_assigned_ && std::strcmp(rd_kafka_rebalance_protocol(rk_), "NONE") != 0) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!ever_assigned_ && std::chrono::steady_clock::now() < give_up) {
      if (rd_kafka_message_t* km = rd_kafka_consumer_poll(rk_, 100)) rd_kafka_message_destroy(km);
    }
  }
  // Leaving the group revokes every partition: revoked() commits what was settled (without a
  // group this only unassigns).
  close_consumer_only(rk_, config_.topic);
  closed_ = true;
  std::lock_guard lock(d_->mu);
  for (auto& [k, p] : parts_) p.part->revoked = true;
  parts_.clear();
  last_ = nullptr;
  last_rkt_ = nullptr;
  if (d_->wake != nullptr) rd_kafka_queue_destroy(std::exchange(d_->wake, nullptr));
  if (queue_ != nullptr) rd_kafka_queue_destroy(std::exchange(queue_, nullptr));
}

consumer::partition_state* consumer::find(const rd_kafka_message_t* km) {
  if (km->rkt == last_rkt_ && km->partition == last_partition_) return last_;
  auto it = parts_.find(key{rd_kafka_topic_name(km->rkt), km->partition});
  if (it == parts_.end()) return nullptr;
  last_rkt_ = km->rkt;
  last_partition_ = km->partition;
  last_ = &it->second;
  return last_;
}

void consumer::add_partition(const std::string& topic, std::int32_t partition, std::optional<std::int64_t> next) {
  partition_state& p = parts_[key{topic, partition}];
  p = partition_state{};
  p.part = std::make_shared<assigned_partition>(topic, partition, topic == config_.retry_topic);
  p.next = next;
}

void consumer::remove_partition(const key& k) {
  auto it = parts_.find(k);
  if (it == parts_.end()) return;
  drop_undelivered(it->second, 0);
  std::erase_if(held_, [&](rd_kafka_message_t* km) {
    const bool drop = km->partition == k.second && k.first == rd_kafka_topic_name(km->rkt);
    if (drop) rd_kafka_message_destroy(km);
    return drop;
  });
  {
    std::lock_guard lock(d_->mu);
    it->second.part->revoked = true;  // a settlement from now on is not committed here: the next owner redelivers
  }
  if (last_ == &it->second) {
    last_ = nullptr;
    last_rkt_ = nullptr;
  }
  parts_.erase(it);
}

std::chrono::milliseconds consumer::poll_timeout(steady::time_point now) const {
  auto until = config_.group.empty() ? now + 1s : next_commit_;
  if (next_resume_) until = std::min(until, *next_resume_);
  if (full_since_ && !paused_for_room_) until = std::min(until, *full_since_ + pause_after);
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
  return std::clamp(left, 0ms, std::chrono::milliseconds(1000));
}

void consumer::wait_for_room() {
  // act() saw room, then held or unblocked deliveries filled it: full from now.
  if (!full_since_) full_since_ = steady::now();
  auto until = std::min(*full_since_ + pause_after, next_commit_);
  if (next_resume_) until = std::min(until, *next_resume_);
  std::unique_lock lock(d_->mu);
  d_->room.wait_until(lock, until,
                      [&] { return room() || stopping_.load() || d_->unblocked.load() || d_->actions.load(); });
}

void consumer::act(steady::time_point now) {
  bool full = !room();
  if (full) {
    // The settler frees a slot and then reads waiting_for_room; this sets it and then reads the
    // slots again: one of the two sees the other, so no wake-up is lost.
    d_->waiting_for_room.store(true);
    full = !room();
  }
  if (!full && d_->waiting_for_room.load(std::memory_order_relaxed)) d_->waiting_for_room.store(false);
  if (!full) {
    full_since_.reset();
  } else if (!full_since_) {
    full_since_ = now;
  }
  const bool pause_for_room = full && now - *full_since_ >= pause_after;
  const bool resume_due = next_resume_ && *next_resume_ <= now;
  const bool actions = d_->actions.load(std::memory_order_relaxed) && d_->actions.exchange(false);
  if (actions || pause_for_room != paused_for_room_ || resume_due) {
    paused_for_room_ = pause_for_room;
    act_on_partitions(now);
  }
  if (!config_.group.empty() && now >= next_commit_) {
    commit_all();
    next_commit_ = now + options_.commit_interval;
  }
}

void consumer::act_on_partitions(std::chrono::steady_clock::time_point now) {
  partitions_ptr pause(rd_kafka_topic_partition_list_new(0)), resume(rd_kafka_topic_partition_list_new(0)),
      seek(rd_kafka_topic_partition_list_new(0));
  std::vector<std::pair<partition_state*, std::int64_t>> rewound;
  next_resume_.reset();
  {
    std::lock_guard lock(d_->mu);
    for (auto& [k, p] : parts_) {
      assigned_partition& part = *p.part;
      if (auto to = part.window.take_rewind()) {
        p.seek_to = p.seek_to ? std::min(*p.seek_to, *to) : *to;
        rewound.emplace_back(&p, *to);
      }
      if (part.resume_at && *part.resume_at <= now) part.resume_at.reset();
      if (part.resume_at) next_resume_ = next_resume_ ? std::min(*next_resume_, *part.resume_at) : *part.resume_at;
      const bool want = paused_for_room_ || part.resume_at.has_value();
      if (want && !p.paused) rd_kafka_topic_partition_list_add(pause.get(), k.first.c_str(), k.second);
      if (!want && p.paused) {
        rd_kafka_topic_partition_list_add(resume.get(), k.first.c_str(), k.second);
        // A seek wakes the partition's broker thread, which librdkafka 2.0 leaves asleep on a resume.
        if (!p.seek_to) p.seek_to = p.next;
      }
      p.paused = want;
      if (!want && p.seek_to) {
        rd_kafka_topic_partition_list_add(seek.get(), k.first.c_str(), k.second)->offset = *p.seek_to;
        p.next = std::exchange(p.seek_to, std::nullopt);
      }
    }
  }
  for (const auto& [p, offset] : rewound) drop_undelivered(*p, offset);
  if (pause->cnt > 0) rd_kafka_pause_partitions(rk_, pause.get());
  if (resume->cnt > 0) rd_kafka_resume_partitions(rk_, resume.get());
  if (seek->cnt > 0) seek_or_retry(*seek, now);
}

void consumer::seek_or_retry(rd_kafka_topic_partition_list_t& seek, steady::time_point now) {
  rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, &seek, 5000);
  if (e != nullptr) {
    spdlog::warn("kafka: subscription {}: seeking: {}", config_.topic, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  // A partition that did not go back still owes its rewind: what the log brings past it is
  // dropped again (delivered later, in order), and the seek is tried again after a pause.
  bool again = false;
  {
    std::lock_guard lock(d_->mu);
    for (int i = 0; i < seek.cnt; ++i) {
      const rd_kafka_topic_partition_t& el = seek.elems[i];
      if (e == nullptr && el.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      auto it = parts_.find({el.topic, el.partition});
      if (it == parts_.end()) continue;  // revoked meanwhile: its next owner starts from the commit
      if (el.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("kafka: subscription {}: seeking [{}] to {}: {}; trying again", config_.topic, el.partition,
                     el.offset, rd_kafka_err2str(el.err));
      }
      assigned_partition& part = *it->second.part;
      part.window.rewind_to(el.offset);
      const auto at = now + seek_retry;
      part.resume_at = part.resume_at ? std::max(*part.resume_at, at) : at;
      again = true;
    }
  }
  if (again) d_->actions.store(true);
}

void consumer::drop_undelivered(partition_state& p, std::int64_t from) {
  const assigned_partition& part = *p.part;
  std::erase_if(held_, [&](rd_kafka_message_t* km) {
    const bool drop =
        km->partition == part.partition && km->offset >= from && part.topic == rd_kafka_topic_name(km->rkt);
    if (drop) rd_kafka_message_destroy(km);
    return drop;
  });
  std::size_t dropped = 0;
  std::erase_if(p.blocked, [&](rd_kafka_message_t* km) {
    if (km->offset < from) return false;
    rd_kafka_message_destroy(km);
    ++dropped;
    return true;
  });
  if (dropped == 0) return;
  blocked_count_ -= dropped;
  std::lock_guard lock(d_->mu);
  p.part->blocked -= dropped;
}

void consumer::deliver_held() {
  while (!held_.empty() && room() && !stopping_.load()) {
    rd_kafka_message_t* km = held_.front();
    held_.pop_front();
    deliver(km);
  }
}

void consumer::deliver_unblocked() {
  if (!d_->unblocked.load(std::memory_order_relaxed) || !d_->unblocked.exchange(false)) return;
  for (auto& [k, p] : parts_) {
    std::set<std::string_view> waiting;  // keys with an earlier message still kept back
    for (auto it = p.blocked.begin(); it != p.blocked.end() && !stopping_.load();) {
      rd_kafka_message_t* km = *it;
      bool busy = waiting.contains(key_of(km));
      if (!busy) {
        std::lock_guard lock(d_->mu);
        busy = p.part->window.busy(partition_window::key_hash(key_of(km)));
        if (!busy) --p.part->blocked;
      }
      if (busy) {
        waiting.insert(key_of(km));
        ++it;
        continue;
      }
      it = p.blocked.erase(it);
      --blocked_count_;
      deliver(km, true);  // its key is free: delivered, not kept back again
    }
  }
}

void consumer::deliver(rd_kafka_message_t* raw, bool released) {
  message_ptr km(raw);
  partition_state* p = find(km.get());
  if (p == nullptr) return;  // from a partition let go meanwhile
  assigned_partition& part = *p->part;
  message m;
  const bookkeeping bk = from_kafka(km.get(), config_.topic, m);
  const std::uint64_t order_key = keep_key_order_ ? partition_window::key_hash(m.key) : 0;
  std::optional<partition_window::delivery> d;
  {
    std::lock_guard lock(d_->mu);
    if (part.retry && bk.not_before && *bk.not_before > std::chrono::system_clock::now()) {
      // A retry copy that is not due: the partition waits for it (the copies are in due order,
      // near enough: a longer delay ahead of a shorter one delays it, never the reverse).
      part.window.rewind_to(km->offset);
      part.resume_at = steady::now() +
                       std::chrono::ceil<std::chrono::milliseconds>(*bk.not_before - std::chrono::system_clock::now());
      d_->actions.store(true);
      return;
    }
    if (order_key != 0 && !released) {
      const bool behind = std::any_of(p->blocked.begin(), p->blocked.end(), [&](const rd_kafka_message_t* b) {
        return partition_window::key_hash(key_of(b)) == order_key;
      });
      if (behind || part.window.busy(order_key)) {
        if (part.window.hold(km->offset)) {
          ++part.blocked;
          ++blocked_count_;
          p->blocked.push_back(km.release());
        }
        return;
      }
    }
    d = part.window.fetched(km->offset, order_key);
  }
  if (!d) return;  // settled before a rewind, or past a rewind still owed
  const std::uint32_t count = bk.delivery_count.value_or(1) + d->count - 1;
  const std::uint32_t max_deliver = config_.subscription.max_deliver;
  if (max_deliver > 0 && count > max_deliver) {
    spdlog::warn("kafka: {} [{}] @{} (id {}) reached max_deliver {}: not delivered again", part.topic, part.partition,
                 km->offset, m.id, max_deliver);
    std::lock_guard lock(d_->mu);
    part.window.settle(km->offset, d->serial);
    return;
  }
  m.delivery.delivery_count = count;
  m.delivery.redelivered = count > 1 || d->redelivered;
  kafka_settler* s = d_->pool.take();
  s->start(d_, p->part, km->offset, *d, count);
  if (!d_->retry_topic.empty()) s->keep(km.get(), m.id);
  m.attach(s);
  d_->in_flight.fetch_add(1);
  config_.callback(std::move(m));
}

}  // namespace ferry::kafka::detail
