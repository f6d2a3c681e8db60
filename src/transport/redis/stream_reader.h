// stream_reader: one subscription of the Redis transport: a connection of its own and the thread
// that reads the stream (XREADGROUP in a group, XREAD without one), delivers each entry and sends
// what the settlers recorded (acks in one XACK, claims for nacks and in_progress) before its next
// read, in one round trip with it.
//
// Settlers run on any thread: they only record the settlement (under settlements::mu) and wake
// the thread when it waits for room. A nacked entry stays pending; the thread claims it again
// (XCLAIM) when its delay is over. Every ack_wait/2 the thread takes over entries other members
// left pending longer than ack_wait (XAUTOCLAIM).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/thread.h"
#include "ferry/redis.h"
#include "ferry/settler_pool.h"
#include "ferry/transport.h"
#include "transport/redis/codec.h"
#include "transport/redis/connection.h"

namespace ferry::redis::detail {

class redis_settler;

// What the settlers of one subscription record for its thread.
struct settlements {
  struct retry {
    std::string id;
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds delay;
    std::uint32_t count;  // deliveries so far
  };
  std::mutex mu;
  std::condition_variable wake;          // the thread waits on it for room or a due retry
  std::vector<entry_key> acks;           // guarded by mu: XACK (ack and term)
  std::vector<retry> retries;            // guarded by mu: nacked, claimed (or re-read) once due
  std::vector<entry_key> touches;        // guarded by mu: in_progress, XCLAIM JUSTID
  std::vector<entry_key> in_flight_ids;  // guarded by mu: delivered, not settled (few: a flat list)
  std::atomic<std::size_t> in_flight{0};
  settler_pool<redis_settler> pool;  // taken by the subscription's thread only

  // One delivery is settled: records `ack` (or nothing), frees its slot. Thread-safe.
  void settled(entry_key id, bool ack);
  // REQUIRES: mu held. Adds `id` to the in-flight list; false when it is there already.
  bool hold(entry_key id);
};

class redis_settler final : public settler {
 public:
  void start(std::shared_ptr<settlements> owner, entry_key id, std::uint32_t count);
  void ack() override;
  void term(std::string_view) override { ack(); }  // the dead-letter middleware published the letter
  void nack(std::chrono::milliseconds delay) override;
  void in_progress() override;

  redis_settler* pool_next = nullptr;

 private:
  void release() override;
  std::shared_ptr<settlements> owner_;
  entry_key id_;
  std::uint32_t count_ = 1;
};

class stream_reader : public std::enable_shared_from_this<stream_reader> {
 public:
  struct config {
    std::string stream;
    std::string group;     // empty: XREAD, nothing to acknowledge
    std::string consumer;  // in the group
    subscription_options subscription;
    delivery_callback callback;
  };

  // Connects, creates the group if missing (or finds the stream's last entry, without a group)
  // and starts the thread.
  static result<std::shared_ptr<stream_reader>> start(const std::string& address, const options& o, config c);
  ~stream_reader();
  // Stops reading, sends the acks recorded so far, deletes the consumer name if it holds nothing
  // pending, and waits for the thread (unless called from the callback). Idempotent.
  void stop();
  // Asks the thread to stop without waiting for its end; ends its blocking read at once (see
  // blocking_reads). close() ends the reads of all its subscriptions first (reads()), then stops
  // each.
  void request_stop();
  blocking_reads& reads() { return reads_; }
  [[nodiscard]] const std::string& subject() const { return config_.stream; }

 private:
  stream_reader(const std::string& address, const options& o, config c);
  void run();
  // One round: sends the recorded settlements (settle()), reads what there is room for and
  // delivers it (read()). What a failed round did not send goes back to the settlements.
  status round();
  // Sends the acks and touches of this round and claims `due` (group), or re-reads it (no
  // group), delivering what comes back; `claimed` counts the retries whose reply was read.
  status settle(const std::vector<settlements::retry>& due, std::size_t& claimed);
  // Takes over stale entries of other members (group), then reads new entries (or its own
  // pending ones, after a (re)connect).
  status read();
  status create_group();
  // Takes out of the settlements the retries whose delay is over, at most `max`.
  std::vector<settlements::retry> take_due(std::size_t max);
  status deliver_entries(const redisReply* entries, const std::vector<std::uint32_t>& counts);
  // Redis's delivery counters of entries just read from history or claimed.
  result<std::vector<std::uint32_t>> counts_of(const redisReply* entries);
  void deliver(const redisReply* entry, std::uint32_t count);
  // Adds XCLAIM ... RETRYCOUNT `count` JUSTID of `id` to `r`: sets its delivery counter back.
  void recount(const entry_key& id, std::uint32_t count, args& r) const;
  // Adds `ids` to `a` (their text in id_text_, which must not change until `a` is sent).
  void add_ids(const std::vector<entry_key>& ids, args& a);
  [[nodiscard]] std::size_t room() const;
  void finish();

  const options options_;
  const config config_;
  const std::shared_ptr<settlements> s_;
  std::unique_ptr<connection> conn_;  // the thread's only
  blocking_reads reads_;              // on conn_; its stop() is the subscription's
  subscription_thread thread_;

  // The thread's own state.
  bool history_;  // a group member first reads its own pending entries back
  std::string history_from_ = "0";
  std::string last_id_;  // no group: the last entry read
  std::chrono::steady_clock::time_point next_reclaim_;
  std::string reclaim_cursor_ = "0-0";
  std::chrono::milliseconds backoff_{0};
  std::vector<entry_key> acks_, touches_;  // taken from the settlements each round (keep their room)
  // Entries a handler here still holds that this member claimed back (XAUTOCLAIM, a history
  // read): Redis counted a delivery that was none. Their counters go back in the next round.
  std::vector<std::pair<entry_key, std::uint32_t>> recounts_;
  std::string id_text_;                    // the ids of one command, one after another
};

}  // namespace ferry::redis::detail
