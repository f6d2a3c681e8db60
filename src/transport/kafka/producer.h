// producer: the Kafka transport's one idempotent producer. Every send ends in exactly one call of
// its completion with the broker's answer (the delivery report), run by the producer's own report
// thread; publish() waits for it, publish_batch() and publish_async() keep many messages in
// flight. publish() and publish_batch() do not copy payloads (the caller's messages stay until
// their reports); publish_async() lets librdkafka copy it into the message it allocates anyway.
//
// Who takes the reports from librdkafka: a publishing thread, right after it handed a message
// over (rd_kafka_poll(0), as a plain librdkafka program does), or the report thread when no
// publisher is at it (librdkafka wakes it through a pipe when reports arrive). Either way the
// completions are only queued there, in report order, and the report thread runs them: a
// publisher never runs a completion. Taking the reports on the publishing thread frees each
// message on the thread that allocated it and keeps the two threads off librdkafka's counter lock
// at the same time (the report thread alone cost publish_async ~45% of raw librdkafka's rate).
// While publishers stream (they took 64 or more reports since the report thread last looked), the
// report thread naps about 500 µs between rounds rather than being woken for each batch of
// reports: a callback, or a publish() made beside the stream, then completes up to about 500 µs
// later.
//
// Thread safety: every method is thread-safe. Completions run on the report thread and must not
// block on another report.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/kafka.h"
#include "ferry/transport.h"
#include "transport/kafka/client.h"

namespace ferry::kafka::detail {

class destination;

class producer : public std::enable_shared_from_this<producer> {
 public:
  // Connects and checks that a broker answers within o.connect_timeout (unavailable otherwise).
  static result<std::shared_ptr<producer>> create(const std::string& bootstrap, const options& o);
  ~producer();
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  // Publishes `m` (subject = topic, or a reply address) and waits for the broker's answer.
  // failed_precondition inside a publish_async callback (the report thread would wait for itself).
  status publish(const message& m);
  // Publishes all of `ms` at once, then waits; the first failure, if any (the others were still
  // sent: a batch is not atomic). failed_precondition inside a publish_async callback.
  status publish_batch(const std::vector<message>& ms);
  // Publishes `m` and returns at once; `done` gets the broker's answer on the report thread (or a
  // refusal at once, on this thread).
  void publish_async(const message& m, publish_callback done);
  // Sends a copy of the consumed `km` (key, payload) to `topic` with `headers`; `done` as above.
  void send_copy(const std::string& topic, std::string_view key, std::string_view payload, headers_ptr headers,
                 std::function<void(status)> done);
  // Waits until every message sent so far has its report (deadline_exceeded after `timeout`).
  // failed_precondition inside a publish_async callback.
  status flush(std::chrono::milliseconds timeout);
  // Creates `topic` where the brokers allow it, and returns its partitions (failed_precondition
  // after close()).
  result<std::vector<std::int32_t>> ensure_topic(const std::string& topic);
  // Flushes (up to publish_timeout), fails what is left with `cancelled`, stops the report thread.
  // Idempotent. Inside a publish_async callback it refuses new messages at once and leaves the
  // rest to a thread of its own (the report thread cannot wait for itself), which holds the
  // producer until it is done.
  void close();

  [[nodiscard]] rd_kafka_t* handle() const { return rk_; }
  // True on the report thread, which runs publish_async's callbacks.
  [[nodiscard]] bool on_report_thread() const { return std::this_thread::get_id() == reports_id_.load(); }
  [[nodiscard]] const options& opts() const { return options_; }

  // The outcome of one message, called once by the report thread (or by send on a refusal).
  class completion {
   public:
    virtual ~completion() = default;
    virtual void done(status s) = 0;
  };

 private:
  explicit producer(options o);
  static void on_report(rd_kafka_t* rk, const rd_kafka_message_t* km, void* opaque);
  // Hands one message to librdkafka (waiting while its queue is full, up to publish_timeout).
  // On a refusal, c->done() has been called and the status is returned.
  status produce(const message& m, completion* c, int flags = 0);
  // Checks the topic of `to` and makes sure librdkafka knows it before a message goes there (once
  // per topic).
  status learn(const destination& to);
  // Counts one message (or one ensure_topic()) in flight while the producer accepts messages (false
  // after close(), and nothing counted); its report, or reports_done(1) after a refusal, counts it
  // out. close() destroys the handle only once nothing is counted.
  bool enter();
  status refused(rd_kafka_resp_err_t err, const std::string& topic, std::size_t bytes);
  // `n` messages have their reports (their completions ran).
  void reports_done(std::int64_t n);
  // The report thread: waits for reports (the pipe) or queued completions, and runs them.
  void serve();
  // Takes librdkafka's due reports (serving_ held; waiting up to `wait_ms` for the first) and
  // queues their completions for the report thread (how many: `taken`); true when the report
  // thread sleeps and must be woken for them.
  bool collect(int wait_ms = 0, std::size_t* taken = nullptr);
  // A publisher takes the due reports if no one else is at it (false then), and wakes the report
  // thread for them.
  bool collect_here(int wait_ms = 0);
  void wake_report_thread();
  // serving_: taken if no one else has it (false then), and given back.
  bool try_serve() { return !serving_.exchange(true, std::memory_order_acquire); }
  void end_serve() { serving_.store(false, std::memory_order_release); }

  rd_kafka_t* rk_ = nullptr;  // set once by create()
  const options options_;
  // On a cache line of its own: publishers add each message, the report thread subtracts once
  // per batch of reports.
  alignas(64) std::atomic<std::int64_t> in_flight_{0};  // handed to librdkafka, no report yet
  // Publishers read accepting_ per message; the report thread reads waiters_ once per batch.
  alignas(64) std::atomic<int> waiters_{0};  // threads waiting on cv_
  std::atomic<bool> closing_{false};        // the report thread may end once in_flight_ is 0
  std::atomic<bool> accepting_{true};       // close() clears it, then waits for in_flight_ to be 0
  std::shared_mutex topics_mu_;
  std::set<std::string, std::less<>> topics_;  // guarded by topics_mu_: known to librdkafka
  std::mutex mu_;                              // for cv_ only: flush() and a full queue wait for reports on it
  std::condition_variable cv_;
  using outcome = std::pair<completion*, status>;
  // Set by whoever calls rd_kafka_poll (one at a time: reports stay in order). Only ever tried,
  // never waited for: a flag costs a publisher one locked instruction per message, a mutex two.
  std::atomic<bool> serving_{false};
  std::vector<outcome> served_;  // guarded by serving_: filled by on_report during a poll
  std::mutex ready_mu_;          // guards ready_
  std::vector<outcome> ready_;   // completions the report thread runs next, in report order
  // Guarded by ready_mu_: the report thread found ready_ empty and waits on the pipe; the first
  // to queue completions after that clears it and wakes the thread (one write per sleep, and
  // none while the thread is at work or naps while publishers stream).
  bool sleeping_ = false;
  int wake_fds_[2] = {-1, -1};   // a pipe: librdkafka and publishers write a byte to wake the report thread
  rd_kafka_queue_t* reports_queue_ = nullptr;  // librdkafka's main queue (its reports), with the pipe as io event
  std::once_flag closed_;
  std::thread reports_;
  // Set before anyone else sees the producer; cleared when the thread ends (a new thread may get its id).
  std::atomic<std::thread::id> reports_id_;
};

}  // namespace ferry::kafka::detail
