// stream: a JetStream stream in ferryd: its configuration, its message store, deduplication,
// the publish path with nats-server's expectation headers and acknowledgements, retention,
// and its consumers.
//
// Locking. `mu_` guards the stream, its store and every one of its consumers. Deliveries made
// under it go to client connections only (route_options::clients_only), whose locks are
// leaves, so no other stream's lock is ever taken under it. Work that may reach internal
// subscribers (advisories, dead-letter copies into another stream) is queued and done after
// `mu_` is released (run_deferred()).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/js/config.h"
#include "broker/subscription.h"
#include "store/store.h"

namespace ferry::broker::js {

class consumer;
class jetstream;

// A message the stream sends later, outside its lock.
struct deferred_publish {
  std::string subject, reply, headers, data;
  std::string to_stream;           // non-empty: store into this stream (a dead letter) instead of routing
  bool empty_reply_field = false;  // advisories: "MSG <subject> <sid>  <size>" as nats-server
};

class stream : public std::enable_shared_from_this<stream>, public round_task {
 public:
  stream(jetstream& js, stream_config cfg, std::unique_ptr<store::message_store> st, std::int64_t created_ns,
         std::string dir);
  ~stream() override;

  [[nodiscard]] const std::string& name() const { return name_; }
  // A copy of the configuration. Thread-safe.
  [[nodiscard]] stream_config config() const;
  [[nodiscard]] std::int64_t created_ns() const { return created_ns_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }

  // Subscribes to the stream's subjects / removes the subscriptions.
  void attach();
  void detach();

  // A client published on one of the stream's subjects (from the routing path).
  void on_publish(const protocol::pub_frame& f, worker* from);
  // Stores a message made by the server (dead letters, KV-like internal writes); returns the
  // sequence or an error. Thread-safe.
  api_result<std::uint64_t> store_message(std::string_view subject, std::string_view headers, std::string_view data);

  // round_task: writes the round's appends and acknowledges them.
  void run(worker& w) override;

  // The StreamInfo JSON members (config, created, state[, subjects, deleted]).
  ojson info(bool deleted_details, const std::string& subjects_filter);
  api_error update(stream_config next);
  api_result<std::uint64_t> purge(const store::purge_request& req);
  api_error delete_message(std::uint64_t seq, bool erase);
  api_result<store::stored_message> get_message(std::uint64_t seq, const std::string& last_by_subject,
                                                const std::string& next_by_subject);
  // Releases files; with `destroy` also removes all data. Consumers go first. Returns the error of
  // removing the stream's directory durably (destroy), which the delete's answer reports.
  status close(bool destroy);

  // Consumers.
  // Creates a consumer, or updates an existing one with the same name (as nats-server 2.9 does,
  // whatever the request's "action").
  api_result<std::shared_ptr<consumer>> add_consumer(consumer_config cfg);
  std::shared_ptr<consumer> find_consumer(const std::string& name);
  std::shared_ptr<consumer> find_consumer_locked(const std::string& name) {
    auto it = consumers_.find(name);
    return it == consumers_.end() ? nullptr : it->second;
  }
  api_error delete_consumer(const std::string& name);
  std::vector<std::shared_ptr<consumer>> consumers();
  // REQUIRES: mutex() held.
  std::vector<std::shared_ptr<consumer>> consumers_locked() {
    std::vector<std::shared_ptr<consumer>> out;
    for (auto& [n, c] : consumers_) out.push_back(c);
    return out;
  }
  // Recovers a durable consumer's configuration and state from disk (at start-up). A missing
  // (nullopt) or damaged state is logged and reported (/jsz "problems"); the consumer then
  // starts from the beginning of the stream, redelivering rather than skipping.
  void recover_consumer(consumer_config cfg, std::int64_t created_ns, const std::optional<std::string>& state);
  // After recovery: if the store lost its tail (a segment cut short) below what a consumer had
  // already seen, raises the stream's last sequence past it, so that new messages get new
  // sequences and consumers carry on with them.
  void keep_sequences_seen();

  // Periodic work on the JetStream timer thread: expiry, redeliveries, heartbeats, pull
  // request timeouts, inactive ephemerals, state saves.
  // Time-driven work: `wall_ns` for max_age and the dedup window, `steady_ns` for deadlines.
  void tick(std::int64_t wall_ns, std::int64_t steady_ns);

  // Makes sure the round-end work (log and store writes, then confirmations) runs for this
  // round; off the workers, does it now. REQUIRES: mu_ held.
  void request_round_locked(worker* w);

  // For consumers (REQUIRES: mu_ held).
  store::message_store& store_locked() { return *store_; }
  // The first sequence appended but not yet written to the store's files (0: none). Consumers
  // deliver nothing from it on: a message whose write fails is discarded and its sequence
  // given again, so it must not have been seen (message_store::write()).
  [[nodiscard]] std::uint64_t unwritten_from_locked() const { return unwritten_from_; }
  jetstream& js() { return js_; }
  void defer_locked(deferred_publish p) { deferred_.push_back(std::move(p)); }
  // Retention: called after acknowledgements change; removes what no consumer needs anymore.
  void apply_retention_locked(std::uint64_t seq);
  // Removes a message no consumer needs any more (interest and work-queue retention).
  void remove_unneeded_locked(std::uint64_t seq);
  [[nodiscard]] const stream_config& config_locked() const { return cfg_; }

  std::mutex& mutex() { return mu_; }
  // Sends what was deferred under the lock. REQUIRES: mu_ not held.
  void run_deferred(worker* w);

 private:
  struct pending_ack {
    std::string reply;
    std::string body;
    std::uint64_t seq = 0;  // the sequence it acknowledges (0: an error or no message)
  };
  void handle_publish_locked(const protocol::pub_frame& f, worker* from);
  void reply_locked(worker* from, std::string_view reply, std::string body, std::uint64_t seq = 0);
  // The round's end (on worker `w`, or now when null): acknowledgement logs, the write of the
  // round's appends, then the flush that confirms them.
  void finish_round_locked(worker* w);
  // Writes what was appended since the last write; on success consumers may deliver it, on
  // failure it is refused (refused_locked).
  status write_appends_locked(worker* w);
  // The appends from sequence `from` on were discarded by the store: their acknowledgements
  // become errors, their message ids leave the deduplication window, consumers recount.
  void refused_locked(std::uint64_t from, const status& why);
  void send_pending_acks(worker* w, std::vector<pending_ack>& acks);
  void notify_consumers_locked(std::uint64_t seq, std::string_view subject, worker* from);
  void prune_dedup_locked(std::int64_t now_ns);

 public:
  // After recovery: refills the deduplication window from the stored messages' Nats-Msg-Id
  // headers, so a publisher retrying across a restart is still deduplicated.
  void rebuild_dedup(std::int64_t now_ns);

 private:
  bool interest_in_locked(std::string_view subject) const;
  void save_config_locked();

  jetstream& js_;
  const std::string name_;
  const std::string dir_;  // empty for memory streams
  const std::int64_t created_ns_;
  mutable std::mutex mu_;
  stream_config cfg_;                                           // guarded by mu_
  std::unique_ptr<store::message_store> store_;                 // guarded by mu_
  std::map<std::string, std::shared_ptr<consumer>> consumers_;  // guarded by mu_
  // Deduplication: Nats-Msg-Id -> (sequence, time), oldest first in dedup_order_.
  std::unordered_map<std::string, std::pair<std::uint64_t, std::int64_t>> dedup_;  // guarded by mu_
  std::deque<std::pair<std::int64_t, std::string>> dedup_order_;                   // guarded by mu_
  std::string last_msg_id_;                                                        // guarded by mu_
  std::vector<pending_ack> pending_acks_;   // guarded by mu_: waiting for the round's write
  std::uint64_t unwritten_from_ = 0;        // guarded by mu_: see unwritten_from_locked()
  bool round_scheduled_ = false;            // guarded by mu_
  std::vector<deferred_publish> deferred_;  // guarded by mu_
  std::vector<subscription_ptr> subs_;
  bool closed_ = false;  // guarded by mu_
};

}  // namespace ferry::broker::js
