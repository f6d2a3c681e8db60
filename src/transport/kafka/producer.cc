#include "transport/kafka/producer.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <shared_mutex>

#include "transport/kafka/codec.h"

namespace ferry::kafka::detail {
namespace {

using clock = std::chrono::steady_clock;

// publish(): one message, waited for on the caller's stack.
class waiter final : public producer::completion {
 public:
  void done(status s) override {
    std::lock_guard lock(mu_);
    result_ = std::move(s);
    finished_ = true;
    cv_.notify_one();
  }
  status wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_; });
    return result_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // guarded by mu_
  status result_;          // guarded by mu_
};

// publish_batch(): every message of the batch reports here; the first failure is kept.
class batch final : public producer::completion {
 public:
  explicit batch(std::size_t n) : left_(n) {}
  void done(status s) override {
    std::lock_guard lock(mu_);
    if (first_error_.is_ok() && !s.is_ok()) first_error_ = std::move(s);
    if (--left_ == 0) cv_.notify_one();
  }
  // One message was never handed over (counts as reported).
  void skip() { done(status::ok()); }
  status wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return left_ == 0; });
    return first_error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t left_;    // guarded by mu_
  status first_error_;  // guarded by mu_
};

// publish_async() and send_copy(): the payload was copied by librdkafka; only the callback is kept.
// (A pool of these, handed back by the report thread, measured no faster than jemalloc.)
class callback final : public producer::completion {
 public:
  explicit callback(std::function<void(status)> cb) : cb_(std::move(cb)) {}
  void done(status s) override {
    cb_(std::move(s));
    delete this;
  }

 private:
  std::function<void(status)> cb_;
};

}  // namespace

result<std::shared_ptr<producer>> producer::create(const std::string& bootstrap, const options& o) {
  std::shared_ptr<producer> p(new producer(o));
  if (::pipe2(p->wake_fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
    return unavailable(std::string("kafka: cannot make the report thread's pipe: ") + std::strerror(errno));
  }
  FERRY_ASSIGN_OR_RETURN(conf_ptr conf, make_conf(bootstrap, o, role::producer));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &producer::on_report);
  rd_kafka_conf_set_opaque(conf.get(), p.get());
  FERRY_ASSIGN_OR_RETURN(p->rk_, make_handle(std::move(conf), RD_KAFKA_PRODUCER));
  // librdkafka writes a byte to the pipe when reports arrive while nobody polls.
  p->reports_queue_ = rd_kafka_queue_get_main(p->rk_);
  rd_kafka_queue_io_event_enable(p->reports_queue_, p->wake_fds_[1], "r", 1);
  p->reports_ = std::thread([raw = p.get()] {
    raw->serve();
    raw->reports_id_.store(std::thread::id());  // a later thread may be given the same id
  });
  p->reports_id_ = p->reports_.get_id();
  // Ask for the cluster's brokers: this fails fast when none answers.
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(p->rk_, 0, nullptr, &md, static_cast<int>(o.connect_timeout.count()));
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable("no Kafka broker answered at " + bootstrap + " within " +
                       std::to_string(o.connect_timeout.count()) + " ms (" + rd_kafka_err2str(err) + ")");
  }
  return p;
}

producer::producer(options o) : options_(std::move(o)) {}

producer::~producer() {
  close();
  for (int fd : wake_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void producer::serve() {
  pthread_setname_np(pthread_self(), "ferry-kafka-dr");
  std::vector<outcome> run;
  bool retry_soon = false;  // a publisher was taking the reports: look again shortly
  // Publishers took at least `stream` of the last round's reports. While they stream,
  // librdkafka writes the pipe for the first report after each of their polls, and a wake-up for
  // each would cost more than the callbacks it runs: the thread naps instead, not woken, and runs
  // what was queued meanwhile in one go. A report that comes in meanwhile waits for the nap too, so
  // a publish() (or flush) made beside a stream returns up to about `nap` later. Below `stream`
  // completions a round (fewer than ~128,000 messages a second) the thread is woken as usual.
  bool streaming = false;
  constexpr auto nap = std::chrono::microseconds(500);
  constexpr std::size_t stream = 64;
  while (!closing_.load() || in_flight_.load() > 0) {
    bool idle = false;
    {
      std::lock_guard lock(ready_mu_);
      idle = ready_.empty();
      sleeping_ = idle && !streaming;
    }
    if (idle) {
      if (streaming) {
        std::this_thread::sleep_for(nap);
      } else {
        pollfd wake{.fd = wake_fds_[0], .events = POLLIN, .revents = 0};
        (void)::poll(&wake, 1, retry_soon ? 1 : 100);  // the timeout only bounds a missed wake-up
      }
      char bytes[256];
      while (::read(wake_fds_[0], bytes, sizeof bytes) > 0) {
      }
    }
    // serving_ is only ever tried: a publisher holding it is taking the reports itself and wakes
    // this thread if it finds any. It may have polled just before the reports that woke this
    // thread arrived, though: hence the short retry.
    retry_soon = !try_serve();
    std::size_t mine = 0;  // reports this thread took itself
    if (!retry_soon) {
      (void)collect(0, &mine);
      end_serve();
    }
    {
      std::lock_guard lock(ready_mu_);
      sleeping_ = false;
      run.swap(ready_);
    }
    // Each completion was written by a publisher on another core: ask for the next ones while
    // this one runs, or every call waits for its own cache miss.
    constexpr std::size_t ahead = 4;
    for (std::size_t i = 0; i < std::min(ahead, run.size()); ++i) __builtin_prefetch(run[i].first);
    for (std::size_t i = 0; i < run.size(); ++i) {
      if (i + ahead < run.size()) __builtin_prefetch(run[i + ahead].first);
      run[i].first->done(std::move(run[i].second));
    }
    if (!run.empty()) reports_done(static_cast<std::int64_t>(run.size()));
    streaming = run.size() >= mine + stream;
    run.clear();
  }
}

bool producer::collect(int wait_ms, std::size_t* taken) {
  rd_kafka_poll(rk_, wait_ms);  // on_report fills served_
  if (taken != nullptr) *taken = served_.size();
  if (served_.empty()) return false;
  std::lock_guard lock(ready_mu_);
  if (ready_.empty()) {
    ready_.swap(served_);
  } else {
    ready_.insert(ready_.end(), std::make_move_iterator(served_.begin()), std::make_move_iterator(served_.end()));
    served_.clear();
  }
  return std::exchange(sleeping_, false);
}

bool producer::collect_here(int wait_ms) {
  if (!try_serve()) return false;  // someone else is taking them
  const bool wake = collect(wait_ms);
  end_serve();
  if (wake) wake_report_thread();
  return true;
}

void producer::wake_report_thread() {
  const char byte = 'p';
  (void)!::write(wake_fds_[1], &byte, 1);  // a full pipe wakes it anyway
}

void producer::on_report(rd_kafka_t* rk, const rd_kafka_message_t* km, void*) {
  auto* self = static_cast<producer*>(rd_kafka_opaque(rk));
  auto* c = static_cast<completion*>(km->_private);
  if (km->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->served_.emplace_back(c, status::ok());
  } else {
    self->served_.emplace_back(c, from_rdkafka(km->err, std::string("publishing to ") + rd_kafka_topic_name(km->rkt)));
  }
}

void producer::reports_done(std::int64_t n) {
  in_flight_.fetch_sub(n);
  if (waiters_.load() > 0) {  // flush() or a full queue: both re-check in_flight_ under mu_
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
}

status producer::refused(rd_kafka_resp_err_t err, const std::string& topic, std::size_t bytes) {
  if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    char limit[32] = "?";
    std::size_t size = sizeof limit;
    rd_kafka_conf_get(rd_kafka_conf(rk_), "message.max.bytes", limit, &size);
    return invalid_argument("a message of " + std::to_string(bytes) + " bytes to " + topic +
                            " is larger than the producer's message.max.bytes (" + limit + ")");
  }
  return from_rdkafka(err, "publishing to " + topic);
}

status producer::learn(const destination& to) {
  // The last topic this thread published to through this producer: no lock for a stream of them.
  // Only checked topics are learnt, so a known one is not checked again.
  thread_local const producer* last_producer = nullptr;
  thread_local std::string last_topic;
  if (last_producer == this && last_topic == to.topic_view()) return status::ok();
  bool known = false;
  {
    std::shared_lock lock(topics_mu_);
    known = topics_.contains(to.topic_view());
  }
  if (known) {
    last_producer = this;
    last_topic = to.topic_view();
    return status::ok();
  }
  FERRY_RETURN_IF_ERROR(check_topic(to.topic_view()));
  // The first message to a topic waits in librdkafka for the topic's metadata, and librdkafka 2.0
  // sends it only when its broker thread next wakes up (up to a second): ask for the metadata
  // first, which also creates the topic where the brokers allow it.
  std::string topic(to.topic_view());
  auto parts = topic_partitions(rk_, topic, options_.connect_timeout);
  if (!parts.is_ok() && parts.status().code() != status_code::not_found) return parts.status();
  std::unique_lock lock(topics_mu_);
  topics_.insert(std::move(topic));
  return status::ok();  // not_found: the brokers do not create topics; librdkafka reports it per message
}

bool producer::enter() {
  // Counted in flight first: close() clears accepting_ before it waits for in_flight_ to be 0,
  // so either this sees the producer closing or close() waits for this message's report.
  in_flight_.fetch_add(1);
  if (accepting_.load()) return true;
  reports_done(1);
  return false;
}

status producer::produce(const message& m, completion* c, int flags) {
  // Counted in flight from here to its report or refusal: close() destroys the librdkafka handle
  // only once nothing is (learn() asks it about a new topic).
  if (!enter()) {
    status s = failed_precondition("publish after the transport was closed");
    c->done(s);
    return s;
  }
  const auto refuse = [&](status s) {
    c->done(s);  // before it is counted out: a flush() returns after the callback ran
    reports_done(1);
    return s;
  };
  const destination to(m.subject);
  if (status s = learn(to); !s.is_ok()) return refuse(s);  // checks the topic first
  // A message without an id gets one here, on what is sent: the caller's message stays as it was.
  std::string made;
  std::string_view id = m.id;
  if (id.empty()) id = made = new_id();
  headers_ptr h = to_headers(m, id, to.token());
  std::optional<clock::time_point> give_up;  // set when the queue is first found full
  for (;;) {
    // close() began (while the topic was looked up, or the queue was full): nothing more goes in.
    if (!accepting_.load()) return refuse(failed_precondition("publish after the transport was closed"));
    // flags 0: no copy of the payload, the caller keeps `m` alive until the report.
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(to.topic()), RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(m.payload.data()), m.payload.size()), RD_KAFKA_V_MSGFLAGS(flags),
        RD_KAFKA_V_HEADERS(h.get()), RD_KAFKA_V_OPAQUE(c), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)h.release();  // librdkafka owns the headers now
      collect_here();
      return status::ok();
    }
    if (!give_up) give_up = clock::now() + options_.publish_timeout;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || clock::now() > *give_up) {
      return refuse(refused(err, std::string(to.topic_view()), m.payload.size()));
    }
    // The queue is full: reports make room (librdkafka frees a message once its report is
    // taken, whoever then runs the completion). Wait for them in librdkafka where no one else
    // takes them (as a plain librdkafka program does), else for whoever does.
    if (collect_here(1)) continue;
    waiters_.fetch_add(1);
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(10));
    }
    waiters_.fetch_sub(1);
  }
}

namespace {

status would_wait_for_itself(std::string_view call) {
  return failed_precondition(
      "kafka: " + std::string(call) +
      " inside a publish_async callback would wait for its own reports: use publish_async there");
}

}  // namespace

status producer::publish(const message& m) {
  if (on_report_thread()) return would_wait_for_itself("publish()");
  waiter w;
  if (status s = produce(m, &w); !s.is_ok()) return s;
  return w.wait();
}

status producer::publish_batch(const std::vector<message>& ms) {
  if (on_report_thread()) return would_wait_for_itself("publish(batch)");
  batch b(ms.size());
  status first;
  for (const message& m : ms) {
    status s = produce(m, &b);  // a refusal reports to b itself
    if (first.is_ok() && !s.is_ok()) first = s;
  }
  status reported = b.wait();
  return first.is_ok() ? reported : first;
}

void producer::publish_async(const message& m, publish_callback done) {
  // librdkafka copies the payload into the message it allocates anyway: the caller frees `m` on
  // the thread that made it, and the completion holds only the callback.
  (void)produce(m, new callback(std::move(done)), RD_KAFKA_MSG_F_COPY);  // reports (and deletes itself) either way
}

void producer::send_copy(const std::string& topic, std::string_view key, std::string_view payload, headers_ptr headers,
                         std::function<void(status)> done) {
  auto* c = new callback(std::move(done));
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__DESTROY;
  if (enter()) {
    err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers.get()),
                            RD_KAFKA_V_OPAQUE(c), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers.release();
      collect_here();
      return;
    }
    reports_done(1);
  }
  c->done(err == RD_KAFKA_RESP_ERR__DESTROY ? failed_precondition("publish after the transport was closed")
                                            : refused(err, topic, payload.size()));
}

status producer::flush(std::chrono::milliseconds timeout) {
  if (on_report_thread()) return would_wait_for_itself("flush()");
  waiters_.fetch_add(1);
  bool drained = false;
  {
    std::unique_lock lock(mu_);
    drained = cv_.wait_for(lock, timeout, [&] { return in_flight_.load() == 0; });
  }
  waiters_.fetch_sub(1);
  if (drained) return status::ok();
  return deadline_exceeded(std::to_string(in_flight_.load()) + " Kafka messages still unacknowledged after " +
                           std::to_string(timeout.count()) + " ms");
}

result<std::vector<std::int32_t>> producer::ensure_topic(const std::string& topic) {
  // Counted in flight while it asks: close() keeps the handle until then.
  if (!enter()) return failed_precondition("the Kafka transport was closed");
  auto parts = topic_partitions(rk_, topic, options_.connect_timeout);
  reports_done(1);
  return parts;
}

void producer::close() {
  if (on_report_thread() && rk_ != nullptr) {
    // A publish_async callback closes (or destroys) the transport: nothing more is taken from
    // now on, and a thread of its own waits for the rest and then for this one. Whoever destroys
    // the transport holds the producer while it closes it, so one is to be had here.
    accepting_.store(false);
    if (auto keep = weak_from_this().lock()) {
      std::thread([keep = std::move(keep)] { keep->close(); }).detach();
      return;
    }
  }
  std::call_once(closed_, [this] {
    if (rk_ == nullptr) return;  // create() failed before the handle
    accepting_.store(false);     // a caller still handing a message over holds in_flight_ above 0
    if (!flush(options_.publish_timeout).is_ok()) {
      spdlog::warn("kafka: {} messages unacknowledged at close, failing them", in_flight_.load());
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    closing_.store(true);
    wake_report_thread();
    if (reports_.joinable()) reports_.join();  // returns once every report was served
    rd_kafka_queue_destroy(reports_queue_);
    rd_kafka_destroy(rk_);
  });
}

}  // namespace ferry::kafka::detail
