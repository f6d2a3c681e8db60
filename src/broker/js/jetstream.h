// jetstream: ferryd's JetStream: the streams, the API on $JS.API.>, acknowledgements on
// $JS.ACK.>, flow-control replies on $JS.FC.>, recovery from the store directory at start-up,
// and a timer thread for time-driven work (redeliveries, heartbeats, expiry).
//
// On disk (file storage): <store_dir>/streams/<name>/meta.json (config and creation time),
// <name>/msgs/ (the message store, see docs/store-format.md) and <name>/consumers/<consumer>/
// (meta.json, state.rec and acks.log for durable consumers).
//
// Everything it needs from the server goes through js::host, and time through js::clock
// (host.h).
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "broker/js/config.h"
#include "broker/js/host.h"
#include "broker/subscription.h"
#include "protocol/parser.h"
#include "store/file_io.h"
#include "store/store.h"

namespace ferry::broker::js {

class stream;

struct jetstream_options {
  std::string store_dir;
  store::sync_policy sync = store::sync_policy::interval;
  std::int64_t sync_interval_ns = 0;
  // The clock; nullptr: clock::system().
  clock* time = nullptr;
  // Whether start() runs a thread for time-driven work (redeliveries, heartbeats, expiry). Tests
  // with a fake clock leave it off and call tick() when they have moved time on.
  bool timer_thread = true;
  // The file layer for every file JetStream writes (streams, their metadata, consumer state and
  // ack logs); nullptr: store::posix_fs(). Tests pass a store::testing::fault_fs.
  std::shared_ptr<store::file_system> fs;
};

struct jetstream_stats {
  std::uint64_t streams = 0, consumers = 0, messages = 0, bytes = 0;
  std::uint64_t memory = 0, storage = 0;  // bytes by storage type
  std::uint64_t api_total = 0, api_errors = 0;
};

class jetstream {
 public:
  jetstream(host& h, jetstream_options o);
  ~jetstream();
  jetstream(const jetstream&) = delete;
  jetstream& operator=(const jetstream&) = delete;

  // Recovers streams from the store directory, subscribes to the API subjects and starts the
  // timer thread. Errors name the stream that could not be recovered.
  status start();
  // Stops the timers and closes every stream (flushing it). Idempotent.
  void stop();

  js::host& server() { return host_; }
  // The clock's two times (see host.h): wall for what users see, steady for deadlines.
  std::int64_t wall_ns() { return clock_.wall_ns(); }
  std::int64_t steady_ns() { return clock_.steady_ns(); }
  // Runs the time-driven work (tick) also at `when_ns` (steady_ns() clock), not only on the next
  // regular tick: pull request expiry is then on time, as clients expect (nats.c sends
  // expires = its own timeout - 10 ms). Thread-safe.
  void wake_at(std::int64_t when_ns);
  // The time-driven work: redeliveries due, pull requests expired, heartbeats, max_age, the
  // dedup window, inactive ephemeral consumers. The timer thread calls it every 20 ms.
  void tick();

  // Internal subscribers' entry points (called from the routing path).
  // Each returns whether the message found a receiver (false: the publisher may get a
  // no-responders 503, as with nats-server's per-consumer subscriptions).
  bool handle_api(const protocol::pub_frame& f, worker* w);
  bool handle_ack(const protocol::pub_frame& f, worker* w);
  bool handle_flow_control(const protocol::pub_frame& f, worker* w);

  std::shared_ptr<stream> find_stream(std::string_view name);
  std::vector<std::shared_ptr<stream>> streams();
  // The stream whose subjects match `subject`, if any.
  std::shared_ptr<stream> stream_for_subject(std::string_view subject);

  // Subscribes `fn` to `subject` as an internal subscriber; returns the subscription.
  subscription_ptr subscribe(const std::string& subject, internal_handler fn);
  void unsubscribe(const subscription_ptr& s);

  // Publishes an advisory (JSON) on `subject`. Thread-safe; REQUIRES: no stream lock held.
  void advisory(worker* w, const std::string& subject, const ojson& body);

  [[nodiscard]] jetstream_stats stats();
  [[nodiscard]] const std::string& store_dir() const { return dir_; }
  [[nodiscard]] store::sync_policy sync() const { return sync_; }
  [[nodiscard]] store::file_system& fs() const { return fs_ ? *fs_ : store::posix_fs(); }
  void count_api(bool error) {
    api_total_.fetch_add(1, std::memory_order_relaxed);
    if (error) api_errors_.fetch_add(1, std::memory_order_relaxed);
  }

  // Damage found in the store (a stream set aside, a consumer's lost state, a message that could
  // not be read): logged as an error by the caller and listed here for /jsz ("problems").
  // Thread-safe.
  void report_problem(std::string what);
  [[nodiscard]] std::vector<std::string> problems();

  // API plumbing shared by the handlers in api.cc.
  void reply(worker* w, std::string_view to, const ojson& body);
  api_result<std::shared_ptr<stream>> create_stream(stream_config cfg);
  api_error delete_stream(const std::string& name);

 private:
  void handle_api_request(const protocol::pub_frame& f, worker* w);
  void start_timer_thread();
  void arm_timer();
  status recover();
  status recover_stream(const std::string& dir);

  js::host& host_;
  clock& clock_;
  const std::string dir_;
  const store::sync_policy sync_;
  const std::int64_t sync_interval_ns_;
  const std::shared_ptr<store::file_system> fs_;
  const bool timer_thread_wanted_;
  std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<stream>, std::less<>> streams_;  // guarded by mu_
  std::vector<subscription_ptr> api_subs_;
  asio::io_context timer_io_{1};
  asio::steady_timer timer_{timer_io_};
  std::thread timer_thread_;
  std::atomic<std::uint64_t> api_total_{0}, api_errors_{0};
  std::atomic<bool> stopped_{false};
  std::mutex problems_mu_;
  std::vector<std::string> problems_;  // guarded by problems_mu_; the first 1000
};

}  // namespace ferry::broker::js
