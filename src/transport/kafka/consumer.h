// consumer: one subscription of the Kafka transport: a librdkafka consumer and the thread that
// polls it, delivers messages one at a time in the order of each partition, and turns settlements
// into commits, seeks and pauses.
//
// The thread is the only one that calls librdkafka for this subscription (polls, pauses, seeks,
// commits; the rebalance callback runs inside its poll). Settlers, on any thread, only record
// what happened in the partition's window (under shared::mu) and wake the thread when it must act
// (a rewind, or room after max_in_flight was reached). See include/ferry/kafka.h for the model.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
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

#include "ferry/kafka.h"
#include "ferry/transport.h"
#include "transport/kafka/client.h"
#include "transport/kafka/partition_window.h"
#include "transport/kafka/producer.h"

namespace ferry::kafka::detail {

// One partition while it is assigned to the subscription. Guarded by shared::mu, except the
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

// What the settlers of a subscription reach; lives as long as the consumer or its last settler.
struct shared {
  std::mutex mu;
  std::condition_variable settled;        // a revoke waits on it for windows to settle
  std::condition_variable room;           // the thread waits on it, not polling, while max_in_flight is reached
  rd_kafka_queue_t* wake = nullptr;       // guarded by mu: the consumer queue (yield wakes the thread)
  std::atomic<std::size_t> in_flight{0};  // delivered, not yet settled by the handler
  std::atomic<bool> waiting_for_room{false};
  std::atomic<bool> unblocked{false};  // a key with messages kept back behind it was settled
  std::size_t max_in_flight = 1;
  nack_mode nack = nack_mode::blocking;
  std::string retry_topic;                // empty: nack is blocking
  std::shared_ptr<detail::producer> out;  // retry copies go out through it

  // Makes the thread's poll (or its wait for room) return now. Thread-safe.
  void wake_up();
  // One delivery is settled by the handler: frees its in-flight slot.
  void slot_free();
};

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
  consumer(const options& o, config c, std::shared_ptr<producer> p);
  void run();
  void shut_down();
  // Rewinds, delayed resumes, pauses for room, periodic commits.
  void act();
  // Waits (without polling) until there is room, something to do, or the time to pause has come.
  void wait_for_room();
  // Delivers km (takes it), or keeps it back behind an unsettled message of its key (blocking
  // nack mode: a key's next message waits until the one before is settled, so a nack can still
  // put it first). `released`: km comes from the kept-back queue, in its turn.
  void deliver(rd_kafka_message_t* km, bool released = false);
  void deliver_held();
  void deliver_unblocked();
  // Drops the kept-back messages of `k` (from `from` on): the log brings them again.
  void drop_blocked(const std::pair<std::string, std::int32_t>& k, std::int64_t from);
  void commit(bool sync, const std::vector<std::shared_ptr<assigned_partition>>& parts);
  std::chrono::milliseconds poll_timeout() const;
  [[nodiscard]] bool room() const { return sh_->in_flight.load() + blocked_count_ < sh_->max_in_flight; }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque);
  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                        void* opaque);
  void assigned(const rd_kafka_topic_partition_list_t* parts);
  void revoked(const rd_kafka_topic_partition_list_t* parts, bool lost);

  const options options_;
  const config config_;
  const std::shared_ptr<shared> sh_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::mutex thread_mu_;  // guards thread_ (start/stop)
  std::thread thread_;

  // The thread's own state.
  using key = std::pair<std::string, std::int32_t>;
  // What the thread knows of a partition beyond its window.
  struct position {
    bool paused = false;                  // as librdkafka was told
    std::optional<std::int64_t> next;     // the offset librdkafka fetches next, when known
    std::optional<std::int64_t> seek_to;  // a seek owed once the partition is resumed
  };
  std::map<key, std::shared_ptr<assigned_partition>> parts_;
  std::map<key, position> positions_;
  std::deque<rd_kafka_message_t*> held_;                    // polled while there was no room
  std::map<key, std::deque<rd_kafka_message_t*>> blocked_;  // kept back behind their key, in log order
  std::size_t blocked_count_ = 0;
  const bool keep_key_order_;  // blocking nack mode
  std::chrono::steady_clock::time_point next_commit_;
  // Since when max_in_flight is reached: the partitions are paused only once it lasts (a pause
  // costs a fetch round trip, and librdkafka 2.0 resumes a paused partition late unless a seek
  // wakes its broker thread, so short waits are spent not polling instead).
  std::optional<std::chrono::steady_clock::time_point> full_since_;
  bool paused_for_room_ = false;
  bool closing_ = false;  // inside shut_down: a revoke does not wait
  bool closed_ = false;   // rd_kafka_consumer_close done
};

}  // namespace ferry::kafka::detail
