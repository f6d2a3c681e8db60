// consumer: one subscription of the Kafka transport: a librdkafka consumer and the thread that
// polls it, delivers messages one at a time in the order of each partition, and turns settlements
// into commits, seeks and pauses.
//
// The thread is the only one that calls librdkafka for this subscription (polls, pauses, seeks,
// commits; the rebalance callback runs inside its poll). Settlers, on any thread, record what
// happened in deliveries.h and wake the thread when it must act. See include/ferry/kafka.h for the
// model. consumer.cc holds the loop and delivery, consumer_group.cc the rebalances and commits.
#pragma once

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/thread.h"
#include "ferry/kafka.h"
#include "ferry/transport.h"
#include "transport/kafka/deliveries.h"

namespace ferry::kafka::detail {

class consumer : public std::enable_shared_from_this<consumer> {
 public:
  struct config {
    std::string topic;
    std::string group;  // empty: every partition from its end, nothing committed
    subscription_options subscription;
    delivery_callback callback;
    std::string retry_topic;               // a group with nack_mode::retry_topics: "<topic>.retry.<group>"
    std::vector<std::int32_t> partitions;  // no group: the topic's partitions
  };

  // Creates the consumer, joins the group (or assigns the partitions at their end) and starts
  // the thread.
  static result<std::shared_ptr<consumer>> start(const std::string& bootstrap, const options& o,
                                                 std::shared_ptr<producer> p, config c);
  ~consumer();
  // Stops delivering, commits what was settled, leaves the group and waits for the thread (unless
  // called from the callback: then the thread finishes after the callback returns). Idempotent.
  void stop();
  [[nodiscard]] const std::string& subject() const { return config_.topic; }

 private:
  using key = std::pair<std::string, std::int32_t>;
  // An assigned partition as the thread sees it.
  struct partition_state {
    std::shared_ptr<assigned_partition> part;
    bool paused = false;                      // as librdkafka was told
    std::optional<std::int64_t> next;         // the offset librdkafka fetches next, when known
    std::optional<std::int64_t> seek_to;      // a seek owed once the partition is resumed
    std::deque<rd_kafka_message_t*> blocked;  // kept back behind their key, in log order
  };

  consumer(const options& o, config c, std::shared_ptr<producer> p);
  void run();
  void shut_down();
  // The partition of a consumed message (nullptr: not assigned any more).
  partition_state* find(const rd_kafka_message_t* km);
  void add_partition(const std::string& topic, std::int32_t partition, std::optional<std::int64_t> next);
  void remove_partition(const key& k);

  // At most this many messages come from one poll.
  static constexpr std::size_t max_batch = 64;
  // Waits for a message (poll_timeout) and takes what else librdkafka holds already, as much as
  // max_in_flight leaves room for; returns how many are in `batch`.
  std::size_t poll(std::array<rd_kafka_message_t*, max_batch>& batch, std::chrono::steady_clock::time_point now);
  // One polled message: delivered, kept for later (no room), or dropped (an error, logged).
  void take(rd_kafka_message_t* km);

  // Rewinds, delayed resumes, pauses for room, periodic commits; returns at once when none is due.
  void act(std::chrono::steady_clock::time_point now);
  void act_on_partitions(std::chrono::steady_clock::time_point now);
  // Seeks the partitions of `seek` back; one that fails keeps its rewind and is paused for a
  // moment, then tried again.
  void seek_or_retry(rd_kafka_topic_partition_list_t& seek, std::chrono::steady_clock::time_point now);
  // Waits (without polling) until there is room, something to do, or the time to pause has come.
  void wait_for_room();
  std::chrono::milliseconds poll_timeout(std::chrono::steady_clock::time_point now) const;
  [[nodiscard]] bool room() const { return d_->in_flight.load() + blocked_count_ < d_->max_in_flight; }

  // Delivers km (takes it), or keeps it back behind an unsettled message of its key (blocking
  // nack mode: a key's next message waits until the one before is settled, so a nack can still
  // put it first). `released`: km comes from the kept-back queue, in its turn.
  void deliver(rd_kafka_message_t* km, bool released = false);
  void deliver_held();
  void deliver_unblocked();
  // Drops what was polled and not delivered of `p` from offset `from` on: the log brings it again.
  void drop_undelivered(partition_state& p, std::int64_t from);

  // consumer_group.cc
  void commit(bool sync, const std::vector<std::shared_ptr<assigned_partition>>& parts);
  void commit_all();
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque);
  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                        void* opaque);
  void assigned(const rd_kafka_topic_partition_list_t* parts);
  void revoked(const rd_kafka_topic_partition_list_t* parts, bool lost);

  const options options_;
  const config config_;
  const std::shared_ptr<deliveries> d_;
  const bool keep_key_order_;  // blocking nack mode
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;  // the consumer queue, for batch polls (the thread's)
  std::atomic<bool> stopping_{false};
  subscription_thread thread_;

  // The thread's own state.
  std::map<key, partition_state> parts_;
  const rd_kafka_topic_t* last_rkt_ = nullptr;  // find()'s cache of the last partition looked up
  std::int32_t last_partition_ = -1;
  partition_state* last_ = nullptr;
  std::deque<rd_kafka_message_t*> held_;  // polled while there was no room
  std::size_t blocked_count_ = 0;         // kept back, every partition
  std::chrono::steady_clock::time_point next_commit_;
  std::optional<std::chrono::steady_clock::time_point> next_resume_;  // the earliest delayed resume
  // Since when max_in_flight is reached: the partitions are paused only once it lasts (a pause
  // costs a fetch round trip, and librdkafka 2.0 resumes a paused partition late unless a seek
  // wakes its broker thread, so short waits are spent not polling instead).
  std::optional<std::chrono::steady_clock::time_point> full_since_;
  bool paused_for_room_ = false;
  bool closing_ = false;        // inside shut_down: a revoke does not wait
  bool closed_ = false;         // rd_kafka_consumer_close done
  bool ever_assigned_ = false;  // a rebalance callback assigned partitions (the thread's)
};

}  // namespace ferry::kafka::detail
