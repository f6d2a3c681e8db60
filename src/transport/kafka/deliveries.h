// deliveries: what the settlers of one Kafka subscription share with its thread: the assigned
// partitions' windows, the in-flight count, the wake-ups, and the pooled settlers themselves.
//
// Settlers run on any thread. They only record what happened in their partition's window (under
// deliveries::mu) and wake the subscription's thread when it must act: a rewind (blocking nack), a
// key whose kept-back messages may now go, or room after max_in_flight was reached. Everything that
// calls librdkafka for the subscription happens on its thread (consumer.h).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ferry/kafka.h"
#include "ferry/message.h"
#include "ferry/settler_pool.h"
#include "transport/kafka/client.h"
#include "transport/kafka/partition_window.h"
#include "transport/kafka/producer.h"

namespace ferry::kafka::detail {

// One partition while it is assigned to the subscription. Guarded by deliveries::mu, except the
// names (const).
struct assigned_partition {
  assigned_partition(std::string t, std::int32_t p, bool r) : topic(std::move(t)), partition(p), retry(r) {}
  const std::string topic;
  const std::int32_t partition;
  const bool retry;  // the group's retry topic
  partition_window window;
  bool revoked = false;     // let go: its settlements no longer count
  std::size_t blocked = 0;  // messages kept back behind an unsettled one of their key
  std::optional<std::chrono::steady_clock::time_point> resume_at;  // paused until then (a delayed nack)
};

class kafka_settler;

struct deliveries {
  std::mutex mu;
  std::condition_variable settled;        // a revoke waits on it for windows to settle
  std::condition_variable room;           // the thread waits on it, not polling, while max_in_flight is reached
  rd_kafka_queue_t* wake = nullptr;       // guarded by mu: the consumer queue (yield wakes the thread's poll)
  std::atomic<std::size_t> in_flight{0};  // delivered, not yet settled by the handler
  std::atomic<bool> waiting_for_room{false};
  std::atomic<bool> unblocked{false};  // a key with messages kept back behind it was settled
  std::atomic<bool> actions{false};    // a window owes a rewind, or a partition a delayed resume
  std::atomic<bool> revoking{false};   // a revoke waits on `settled`
  std::size_t max_in_flight = 1;
  std::string retry_topic;           // empty: nack is blocking
  std::shared_ptr<producer> out;     // retry copies go out through it
  settler_pool<kafka_settler> pool;  // taken by the subscription's thread only

  // Makes the thread's poll (or its wait for room) return now. Thread-safe.
  void wake_up();
  // One delivery is settled by the handler: frees its in-flight slot.
  void slot_free();
};

// The settler of one delivery: records the settlement in the partition's window. Pooled per
// subscription; while a message refers to it, it holds the deliveries (and so the pool) alive.
class kafka_settler final : public settler {
 public:
  void start(std::shared_ptr<deliveries> owner, std::shared_ptr<assigned_partition> part, std::int64_t offset,
             partition_window::delivery d, std::uint32_t count);
  // Retry-topic mode: what nack copies (the consumed message's key, payload and headers, and its
  // id). Copied: a consumed message held past its subscription's stop would hold up
  // rd_kafka_destroy.
  void keep(const rd_kafka_message_t* km, std::string_view id);

  void ack() override { done(); }
  void term(std::string_view) override { done(); }
  void nack(std::chrono::milliseconds delay) override;

  kafka_settler* pool_next = nullptr;  // in the pool's free stack

 private:
  void release() override;
  void done();
  void rewind(std::chrono::milliseconds delay);
  void copy_to_retry_topic(std::chrono::milliseconds delay);

  std::shared_ptr<deliveries> owner_;  // while a message refers to this delivery
  std::shared_ptr<assigned_partition> part_;
  std::int64_t offset_ = 0;
  partition_window::delivery delivery_;
  std::uint32_t count_ = 1;
  std::string id_;
  std::string key_, payload_;
  headers_ptr headers_;  // null when the message had none
};

}  // namespace ferry::kafka::detail
