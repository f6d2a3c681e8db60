// consumer: a JetStream consumer: where it is in the stream, what it delivered and is waiting
// to have acknowledged, redelivery (ack wait, backoff, NAK delay), max deliver with its
// advisory and ferryd's dead-letter copy, push delivery (interest, heartbeats, flow control)
// and pull requests (batch, expires, no_wait, max_bytes, heartbeats, status replies).
//
// Every method runs with the owning stream's mutex held (REQUIRES: stream::mutex() held); the
// stream serializes its consumers with its store.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/js/config.h"
#include "store/store.h"

namespace ferry::broker {
class worker;
}

namespace ferry::broker::js {

class stream;

class consumer {
 public:
  // `name` is the durable name, the name from the create subject, or a generated one.
  consumer(stream& s, consumer_config cfg, std::int64_t created_ns, std::string name);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const consumer_config& config() const { return cfg_; }
  [[nodiscard]] bool durable() const { return !cfg_.durable_name.empty(); }
  [[nodiscard]] std::int64_t created_ns() const { return created_ns_; }

  // Sets the starting position from the deliver policy and delivers what it can.
  void start(worker* w);
  // A new configuration for an existing consumer (the fields nats-server lets change).
  void reconfigure(const consumer_config& c) {
    cfg_ = c;
    pending_stale_ = true;  // the filter may have changed
  }
  // What nats-server's create reply shows: the info taken when start() had placed the consumer,
  // before its first delivery (taken once); info() when there is none.
  ojson initial_info() {
    if (!initial_info_) return info();
    ojson j = std::move(*initial_info_);
    initial_info_.reset();
    return j;
  }

  // A new message was stored; deliver it if possible.
  void on_message(std::uint64_t seq, std::string_view subject, worker* w);
  // The stream lost messages (purge, delete, expiry): recompute the position.
  void on_removed();
  // The stream wrote its appends to the store: deliver what was held back until then.
  void on_written(worker* w);
  // An acknowledgement on $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>.
  void on_ack(std::uint64_t sseq, std::uint64_t dseq, std::string_view body, std::string_view reply, worker* w);
  // A pull request (CONSUMER.MSG.NEXT) with the requester's inbox as `reply`.
  void on_pull_request(std::string_view body, std::string_view reply, worker* w);
  // A flow-control reply on $JS.FC.<stream>.<consumer>.<id>.
  void on_flow_control_reply(std::string_view subject, worker* w);
  // Periodic: redeliveries past their deadline, heartbeats, pull timeouts (`now_ns`: the steady
  // clock). Returns false when an ephemeral consumer has been inactive for its
  // inactive_threshold and must be removed.
  bool tick(std::int64_t now_ns);

  // Whether this consumer still needs `seq` (not acknowledged) for interest retention.
  [[nodiscard]] bool needs(std::uint64_t seq, std::string_view subject) const;
  [[nodiscard]] bool matches(std::string_view subject) const {
    return store::subject_filter_matches(cfg_.filter_subject, subject);
  }

  // ConsumerInfo JSON.
  ojson info();
  // Persistent state (delivered, ack floor, pending, redelivery counts) as JSON text, and back.
  [[nodiscard]] std::string save_state() const;
  // data_loss when `text` is not a state this build wrote (the consumer is left at its start).
  status load_state(const std::string& text);
  // The highest stream sequence this consumer has seen delivered or acknowledged (recovery).
  [[nodiscard]] std::uint64_t highest_seen() const;
  // Durable consumers: writes meta.json and state.json into `dir` (and truncates the ack log),
  // at most once a second from maybe_save().
  void save(const std::string& dir);
  void maybe_save(const std::string& dir, std::int64_t steady_ns);
  // The acknowledgement log (acks since the last state.rec), replayed at recovery. Appends are
  // buffered and written by flush_log() at the end of each round; a durable consumer's
  // confirmations (the empty reply to an ack that asked for one) wait for that write and go out
  // only once it succeeded, so that kill -9 loses no confirmed acknowledgement. With sync always
  // they wait for the log's fdatasync too, which runs on the stream store's sync thread (in the
  // same group commit as the segments), so that a worker never waits for the disk.
  // Opens (and replays) the ack log in `dir`: acknowledgements made after the last snapshot,
  // checksummed records; a torn tail is cut off, damage inside is skipped and reported.
  void open_log(const std::string& dir);
  void flush_log(worker* w = nullptr);
  void close_log();
  // Sends 409 Consumer Deleted to waiting pull requests (the consumer is going away).
  void shutdown(worker* w);

 private:
  void replay_ack(std::uint64_t seq, std::uint64_t dseq);  // one acknowledgement of the ack log
  // `bytes` to the ack log at `offset`; false (logged once per streak, the torn part cut off) if
  // the write failed.
  bool write_log(std::uint64_t offset, std::string_view bytes);
  void flush_log_synced();  // flush_log() with sync always
  struct log_sync;          // what the ack log's syncs share with the sync thread
  struct pending {
    std::uint64_t dseq = 0;
    std::int64_t deadline_ns = 0;  // steady clock
    std::int64_t ts_ns = 0;        // when it was delivered (wall clock, shown and saved)
  };
  // A message chosen for delivery, and how to take it off the queues once sent.
  struct candidate {
    store::stored_message m;
    std::uint64_t dc = 1;
    enum { redelivery, initial, fresh } kind = fresh;
  };
  struct pull_request {
    std::string reply;
    std::int64_t batch = 1;
    std::int64_t max_bytes = 0;
    std::int64_t expires_ns = 0;  // absolute; 0 = never
    std::int64_t heartbeat_ns = 0;
    std::int64_t last_activity_ns = 0;
    bool no_wait = false;
    // no_wait with an expiry that found nothing: it waits like any request, and once served
    // ends as no_wait does (nats-server 2.9.10).
    bool end_when_served = false;
    std::int64_t delivered = 0;
    std::int64_t bytes = 0;
  };

  // A pull request's body: a JSON object, a bare batch size or nothing (a batch of 1). False
  // when it starts as JSON but is not an object.
  static bool parse_pull_body(std::string_view body, pull_request& r);
  // The status that refuses `r` under this consumer's limits (nullptr: none), and its suffix.
  const status_line* refuse_pull(const pull_request& r, std::string& suffix) const;
  // Ends a pull request with 408 and what it still lacked (Nats-Pending-Messages/-Bytes).
  void end_request(const pull_request& r, worker* w);
  // Ends the waiting requests whose expiry has passed.
  void expire_requests(std::int64_t now, worker* w);
  // "Nats-Last-Consumer: ...\r\nNats-Last-Stream: ...\r\n" for heartbeats.
  [[nodiscard]] std::string last_headers() const;
  void load_state_fields(const nlohmann::json& j);  // throws on a field of the wrong type
  // A message that exists but could not be read: logged and reported, then skipped.
  void unreadable(std::uint64_t seq, const status& why);
  void deliver_ready(worker* w);
  bool can_deliver_push() const;
  // The next message to send: a due redelivery first, else the next new one. false if none.
  // Nothing is consumed until take() is called.
  bool peek(candidate& c, bool allow_new);
  void take(const candidate& c);
  // The clocks, read once for all the messages one deliver_ready() sends (on its first send).
  struct send_time {
    std::int64_t steady_ns = 0;
    std::int64_t wall_ns = 0;
  };
  void send(const store::stored_message& m, std::uint64_t dc, const std::string& to, worker* w, const send_time& t);
  void ack_one(std::uint64_t sseq);
  // Appends "A <stream seq> <consumer seq>" to the ack log (consumer seq 0 when unknown).
  void log_ack(std::uint64_t sseq, std::uint64_t dseq);
  void acked_through(std::uint64_t sseq);
  void terminate(std::uint64_t sseq, const std::string& reason, worker* w);
  void max_deliveries_reached(std::uint64_t sseq, std::uint64_t deliveries);
  void dead_letter(std::uint64_t sseq, const std::string& reason, std::uint64_t deliveries);
  void update_ack_floor();
  // A status message (`st` with `suffix` after its text) to `to`, with extra header lines.
  void send_status(const std::string& to, const status_line& st, const std::string& extra_headers, worker* w,
                   std::string_view suffix = {});
  std::int64_t ack_wait_for(std::uint64_t deliveries) const;
  std::uint64_t num_pending() const;
  static std::string pending_headers(std::int64_t msgs, std::int64_t bytes);
  // `pending`: the num-pending token (default: num_pending()).
  std::string ack_reply(std::uint64_t dc, std::uint64_t sseq, std::uint64_t dseq, std::int64_t ts,
                        std::optional<std::uint64_t> pending = std::nullopt) const;

  stream& s_;
  consumer_config cfg_;
  std::string name_;
  std::int64_t created_ns_;
  std::string stream_name_;

  std::uint64_t next_sseq_ = 1;  // next stream sequence to consider for a first delivery
  // Messages still to deliver (num_pending), kept up to date per delivery and per new message;
  // recounted from the store only after removals (counting is linear in the store).
  mutable std::uint64_t pending_count_ = 0;
  mutable bool pending_stale_ = true;
  bool held_ = false;            // a message was not delivered because it was not written yet
  std::uint64_t dseq_ = 0;       // last consumer sequence used
  std::uint64_t last_sseq_ = 0;  // stream sequence of the last delivery
  std::uint64_t ack_floor_dseq_ = 0;
  std::uint64_t ack_floor_sseq_ = 0;
  std::map<std::uint64_t, pending> pending_;           // by stream sequence
  std::map<std::uint64_t, std::uint64_t> deliveries_;  // delivery counts > 1, by stream seq
  std::set<std::uint64_t> redeliver_;                  // due for redelivery, by stream seq
  std::deque<std::uint64_t> initial_;                  // last_per_subject start set
  std::uint64_t num_redelivered_ = 0;
  std::deque<pull_request> waiting_;
  // Deadlines and intervals on the steady clock; wall-clock times only where users see them.
  std::int64_t last_activity_ns_ = 0;       // for inactive_threshold and heartbeats
  std::int64_t last_delivery_ns_ = 0;       // push heartbeats
  std::int64_t last_delivery_wall_ns_ = 0;  // delivered.last_active; 0: nothing delivered since start
  std::int64_t replay_ref_ns_ = 0;          // replay original: steady time of the first delivery
  std::int64_t replay_first_ts_ = 0;   // ... and that message's timestamp
  std::string fc_pending_;             // outstanding flow-control subject, empty if none
  std::uint64_t fc_bytes_ = 0;         // bytes delivered since the last flow-control request
  bool had_interest_ = false;
  bool dirty_ = false;
  std::set<std::uint64_t> acked_beyond_;  // acked (per the log) but after next_sseq_: skip them
  std::optional<ojson> initial_info_;     // see initial_info()
  std::int64_t last_ack_ns_ = 0;          // ack_floor.last_active: the last ack processed (not persisted)
  store::sync_file_ptr log_file_;         // the ack log, shared with the syncs in flight
  std::string log_path_;
  std::uint64_t log_size_ = 0;              // bytes of whole records in the ack log (writes go there)
  bool log_failing_ = false;                // the last write of the log failed (logged once per streak)
  std::string log_buf_;                     // ack records not written yet
  std::vector<std::string> confirmations_;  // reply subjects waiting for log_buf_ to be written
  // Sync always: the syncs of the ack log in flight, and the bytes written from unsynced_from_ on
  // (not known to be durable yet: written again should a sync fail).
  std::shared_ptr<log_sync> log_sync_;
  std::string log_unsynced_;
  std::uint64_t unsynced_from_ = 0;
  std::int64_t last_save_ns_ = 0;
};

}  // namespace ferry::broker::js
