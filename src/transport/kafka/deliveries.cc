#include "transport/kafka/deliveries.h"

#include <spdlog/spdlog.h>

#include "transport/kafka/codec.h"

namespace ferry::kafka::detail {
namespace {

// A kept payload above this size gives its buffer back when the settler returns to the pool.
constexpr std::size_t large_payload = 64 * 1024;

}  // namespace

void deliveries::wake_up() {
  std::lock_guard lock(mu);
  if (wake != nullptr) rd_kafka_queue_yield(wake);
  room.notify_all();
}

void deliveries::slot_free() {
  in_flight.fetch_sub(1);
  if (waiting_for_room.load()) wake_up();
}

void kafka_settler::start(std::shared_ptr<deliveries> owner, std::shared_ptr<assigned_partition> part,
                          std::int64_t offset, partition_window::delivery d, std::uint32_t count) {
  reset();
  owner_ = std::move(owner);
  part_ = std::move(part);
  offset_ = offset;
  delivery_ = d;
  count_ = count;
}

void kafka_settler::keep(const rd_kafka_message_t* km, std::string_view id) {
  id_ = id;
  key_.assign(static_cast<const char*>(km->key), km->key != nullptr ? km->key_len : 0);
  payload_.assign(static_cast<const char*>(km->payload), km->payload != nullptr ? km->len : 0);
  rd_kafka_headers_t* src = nullptr;
  headers_.reset(rd_kafka_message_headers(km, &src) == RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_headers_copy(src)
                                                                                  : nullptr);
}

void kafka_settler::release() {
  headers_.reset();
  // Pooled: a large payload's buffer is not kept for the next delivery.
  if (payload_.capacity() > large_payload) payload_ = std::string();
  part_.reset();
  // `keep` may be the last reference to the pool, which owns this settler: nothing touches `this`
  // after give_back().
  const std::shared_ptr<deliveries> keep = std::move(owner_);
  keep->pool.give_back(this);
}

void kafka_settler::nack(std::chrono::milliseconds delay) {
  if (!owner_->retry_topic.empty()) {  // keep() ran at delivery
    copy_to_retry_topic(delay);
  } else {
    rewind(delay);
  }
  owner_->slot_free();
}

void kafka_settler::done() {
  deliveries& d = *owner_;
  bool unblocks = false;
  {
    std::lock_guard lock(d.mu);
    if (!part_->revoked && part_->window.settle(offset_, delivery_.serial)) {
      if (d.revoking.load()) d.settled.notify_all();
      unblocks = part_->blocked > 0;
    }
  }
  if (unblocks) {
    d.unblocked.store(true);
    d.wake_up();
  }
  d.slot_free();
}

// Blocking mode: the partition goes back to this offset after `delay`.
void kafka_settler::rewind(std::chrono::milliseconds delay) {
  deliveries& d = *owner_;
  {
    std::lock_guard lock(d.mu);
    if (part_->revoked || !part_->window.rewind(offset_, delivery_.serial)) return;
    const auto at = std::chrono::steady_clock::now() + delay;
    part_->resume_at = part_->resume_at ? std::max(*part_->resume_at, at) : at;
    if (d.revoking.load()) d.settled.notify_all();
    if (part_->blocked > 0) d.unblocked.store(true);
    d.actions.store(true);
  }
  d.wake_up();
}

// Retry-topic mode: the copy carries the next delivery's count and its due time; the original
// counts as settled once the copy is stored (until then a crash redelivers the original).
void kafka_settler::copy_to_retry_topic(std::chrono::milliseconds delay) {
  {
    // Revoked: the next owner redelivers the original, so a copy would be handled twice.
    std::lock_guard lock(owner_->mu);
    if (part_->revoked) return;
  }
  const auto due = std::chrono::system_clock::now() + delay;
  auto d = owner_;
  auto part = part_;
  const std::int64_t offset = offset_;
  const std::uint64_t serial = delivery_.serial;
  d->out->send_copy(d->retry_topic, key_, payload_, retry_headers(headers_.get(), id_, count_ + 1, due),
                    [d, part, offset, serial](status s) {
                      {
                        std::lock_guard lock(d->mu);
                        if (part->revoked) return;
                        if (s.is_ok()) {
                          part->window.settle(offset, serial);
                        } else {
                          spdlog::warn("kafka: copying {} [{}] @{} to {} failed ({}); redelivering it instead",
                                       part->topic, part->partition, offset, d->retry_topic, s.to_string());
                          part->window.rewind(offset, serial);
                          d->actions.store(true);
                        }
                        if (d->revoking.load()) d->settled.notify_all();
                      }
                      if (!s.is_ok()) d->wake_up();
                    });
}

}  // namespace ferry::kafka::detail
