#include "transport/rabbitmq/publisher.h"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace ferry::rabbitmq::detail {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr amqp_channel_t messages_channel = 1;
constexpr amqp_channel_t requests_channel = 2;
// Jobs taken from the queue at once (then frames are read before the next batch).
constexpr std::size_t batch = 512;

}  // namespace

result<std::shared_ptr<publisher>> publisher::start(std::string address, options o) {
  std::shared_ptr<publisher> p(new publisher(std::move(address), std::move(o)));
  p->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->wake_fd_ < 0) return errno_status("rabbitmq: eventfd", errno);
  FERRY_RETURN_IF_ERROR(p->connect());
  p->thread_ = std::thread([self = p.get()] {
    self->run();
    self->thread_id_.store(std::thread::id());  // a later thread may be given the same id
  });
  p->thread_id_ = p->thread_.get_id();
  p->watchdog_ = std::thread([self = p.get()] { self->watch(); });
  p->started_ = true;
  return p;
}

publisher::~publisher() {
  close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void publisher::disconnect() {
  if (conn_ && blocked_) conn_->abandon();
  conn_.reset();
  blocked_.reset();
}

status publisher::connect() {
  disconnect();
  FERRY_ASSIGN_OR_RETURN(conn_, connection::open(address_, options_, options_.connection_name, 2));
  FERRY_RETURN_IF_ERROR(declare_exchange(*conn_, messages_channel, options_.exchange));
  amqp_confirm_select(conn_->get(), messages_channel);
  FERRY_RETURN_IF_ERROR(conn_->rpc_status("confirm.select", messages_channel));
  amqp_basic_consume(conn_->get(), requests_channel, bytes(direct_reply_to), amqp_empty_bytes, /*no_local=*/0,
                     /*no_ack=*/1, /*exclusive=*/0, amqp_empty_table);
  FERRY_RETURN_IF_ERROR(conn_->rpc_status("basic.consume amq.rabbitmq.reply-to", requests_channel));
  first_tag_ = 1;
  sent_.clear();
  returned_.clear();
  return status::ok();
}

void publisher::wake() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

status publisher::wait_for_room(std::unique_lock<std::mutex>& lock) {
  const auto full = [&] { return queue_.size() + in_flight_ >= options_.max_pending; };
  if (!closing_ && full() && !on_io_thread()) {
    ++room_waiters_;
    const bool room = room_cv_.wait_for(lock, options_.publish_timeout, [&] { return closing_ || !full(); });
    --room_waiters_;
    if (!room) {
      return resource_exhausted("rabbitmq: " + std::to_string(queue_.size() + in_flight_) +
                                " messages wait for the broker (max_pending " + std::to_string(options_.max_pending) +
                                ") and none was confirmed within publish_timeout (" +
                                std::to_string(options_.publish_timeout.count()) + " ms)");
    }
  }
  if (closing_) return failed_precondition("publish after the transport was closed");
  return status::ok();
}

void publisher::publish(message m, publish_callback done) {
  std::unique_lock lock(mu_);
  if (status s = wait_for_room(lock); !s.is_ok()) {
    lock.unlock();
    done(std::move(s));
    return;
  }
  const bool was_empty = queue_.empty();
  queue_.push_back({.m = std::move(m), .done = std::move(done), .give_up = steady::now() + options_.publish_timeout});
  lock.unlock();
  if (was_empty) wake();
}

void publisher::publish(std::vector<message> ms, batch_callback done) {
  auto shared = std::make_shared<batch_callback>(std::move(done));
  std::unique_lock lock(mu_);
  if (status s = wait_for_room(lock); !s.is_ok()) {  // room for one: a batch may go over the bound
    lock.unlock();
    for (std::size_t i = 0; i < ms.size(); ++i) (*shared)(i, s);
    return;
  }
  const bool was_empty = queue_.empty();
  const auto give_up = steady::now() + options_.publish_timeout;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    queue_.push_back({.m = std::move(ms[i]), .each = shared, .index = i, .give_up = give_up});
  }
  lock.unlock();
  if (was_empty) wake();
}

result<message> publisher::request(message m, std::chrono::milliseconds timeout) {
  auto r = std::make_shared<pending_request>();
  r->token = new_id();
  r->m = std::move(m);
  std::unique_lock lock(mu_);
  if (closing_) return failed_precondition("request after the transport was closed");
  requests_.emplace(r->token, r);
  request_queue_.push_back(r);
  lock.unlock();
  wake();
  lock.lock();
  reply_cv_.wait_for(lock, timeout, [&] { return r->finished; });
  if (!r->finished) {
    r->finished = true;  // the thread drops it if it has not published it yet
    r->reply = deadline_exceeded("rabbitmq: no reply to " + r->m.subject + " within " +
                                 std::to_string(timeout.count()) + " ms");
  }
  requests_.erase(r->token);
  return std::move(r->reply);
}

status publisher::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (idle_cv_.wait_for(lock, timeout, [&] { return idle_locked(); })) return status::ok();
  return deadline_exceeded("rabbitmq: flush: " + std::to_string(queue_.size() + in_flight_) +
                           " messages not confirmed within " + std::to_string(timeout.count()) + " ms");
}

void publisher::close() {
  std::thread t, watchdog;
  bool joined_elsewhere = false;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    room_made_locked();  // waiting publishers fail now
    if (!on_io_thread()) {
      t = std::move(thread_);
      watchdog = std::move(watchdog_);
      joined_elsewhere = !t.joinable() && started_;
    }
  }
  wake();
  if (on_io_thread()) {
    // A publish_async callback closes (or destroys) the transport: the I/O thread cannot join
    // itself. Whoever destroys the transport holds the publisher while it closes it.
    if (auto keep = weak_from_this().lock()) std::thread([keep = std::move(keep)] { keep->close(); }).detach();
    return;
  }
  if (joined_elsewhere) {
    // Another close() joins the I/O thread: return once it has ended, as that one does.
    std::unique_lock lock(mu_);
    ended_cv_.wait(lock, [&] { return ended_; });
    return;
  }
  if (t.joinable()) t.join();
  if (watchdog.joinable()) {
    {
      std::lock_guard lock(watch_mu_);
      watch_stop_ = true;
    }
    watch_cv_.notify_all();
    watchdog.join();
  }
  {
    std::lock_guard lock(mu_);
    ended_ = true;
  }
  ended_cv_.notify_all();
}

void publisher::watch() {
  pthread_setname_np(pthread_self(), "ferry-amqp-dog");
  const auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.publish_timeout).count();
  const auto tick = std::clamp(options_.publish_timeout / 4, std::chrono::milliseconds(50), 1000ms);
  std::unique_lock lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, tick, [&] { return watch_stop_; })) {
    if (writing_fd_ < 0 || steady_ns() - write_progress_.load(std::memory_order_relaxed) <= limit) continue;
    spdlog::warn(
        "rabbitmq: publisher: a write to {} has made no progress for publish_timeout ({} ms): the broker reads "
        "nothing; closing the connection",
        address_, options_.publish_timeout.count());
    stalled_.store(true);
    ::shutdown(writing_fd_, SHUT_RDWR);  // the I/O thread's write fails; it connects again
    writing_fd_ = -1;
  }
}

void publisher::writing(int fd) {
  std::lock_guard lock(watch_mu_);
  writing_fd_ = fd;
  if (fd >= 0) progressed();
}

void publisher::run() {
  pthread_setname_np(pthread_self(), "ferry-amqp-pub");
  std::optional<steady::time_point> close_by;
  for (;;) {
    const auto now = steady::now();
    {
      std::lock_guard lock(mu_);
      if (closing_) {
        if (!close_by) close_by = now + options_.publish_timeout;
        if (idle_locked() || now > *close_by) break;
      }
    }
    if (!conn_ || conn_->broken()) {
      if (const status s = connect(); !s.is_ok()) {
        backoff_ = std::clamp(backoff_ * 2, 100ms, 2000ms);
        spdlog::warn("rabbitmq: publisher: {}; connecting again in {} ms", s.to_string(), backoff_.count());
        conn_.reset();
        trouble_ = s.message();
        fail_expired(now);
        pollfd p{wake_fd_, POLLIN, 0};
        (void)::poll(&p, 1, static_cast<int>(backoff_.count()));
        std::uint64_t n;
        (void)!::read(wake_fd_, &n, sizeof n);
        continue;
      }
      if (backoff_ > 0ms) spdlog::info("rabbitmq: publisher: connected to {} again", address_);
      backoff_ = 0ms;
    }
    if (send_queued()) {
      if (const status s = read_frames(1000ms); !s.is_ok()) connection_lost(s);
    } else {
      connection_lost(unavailable(stalled_.exchange(false)
                                      ? "rabbitmq: a write made no progress for publish_timeout: the broker read "
                                        "nothing (a resource alarm, or a stuck broker or network)"
                                      : "rabbitmq: publishing failed: the connection broke"));
    }
    fail_expired(steady::now());
  }
  // Closing: whatever is left fails.
  const status gone = status(status_code::cancelled, "rabbitmq: the transport was closed before the broker confirmed");
  std::deque<job> left;
  {
    std::lock_guard lock(mu_);
    left.swap(queue_);
    for (auto& [token, r] : requests_) {
      r->finished = true;
      r->reply = gone;
    }
  }
  reply_cv_.notify_all();
  for (sent& s : sent_) {
    if (s.confirmed) {
      s.j.finish(std::move(s.outcome));  // confirmed out of order, behind one that was not
    } else {
      left.push_back(std::move(s.j));
    }
  }
  for (job& j : retry_) left.push_back(std::move(j));
  sent_.clear();
  retry_.clear();
  for (job& j : left) j.finish(gone);
  {
    std::lock_guard lock(mu_);
    in_flight_ = 0;
    room_made_locked();
  }
  idle_cv_.notify_all();
  disconnect();
}

bool publisher::send_queued() {
  if (blocked_) return true;  // nothing more until the broker reads again
  std::deque<job> jobs;
  std::vector<std::shared_ptr<pending_request>> requests;
  {
    std::lock_guard lock(mu_);
    const std::size_t n = std::min(queue_.size(), batch);
    for (std::size_t i = 0; i < n; ++i) {
      jobs.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ += n;
    while (!request_queue_.empty()) {
      if (!request_queue_.front()->finished) requests.push_back(request_queue_.front());
      request_queue_.pop_front();
    }
  }
  if (!retry_.empty()) {
    std::move(jobs.begin(), jobs.end(), std::back_inserter(retry_));
    jobs.swap(retry_);
    retry_.clear();
  }
  amqp_connection_state_t c = conn_->get();
  writing(conn_->fd());
  struct done_writing {
    publisher* p;
    ~done_writing() { p->writing(-1); }
  } done_writing{this};
  const amqp_boolean_t mandatory = options_.unroutable == unroutable_policy::error ? 1 : 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const message& m = jobs[i].m;
    std::string_view exchange = options_.exchange, routing_key = m.subject, correlation;
    amqp_boolean_t must_route = mandatory;
    if (m.subject.starts_with(direct_reply_to)) {
      // A reply: to the requester's direct reply-to queue; dropped when it is gone (as NATS does).
      const std::size_t hash = m.subject.find('#');
      routing_key = std::string_view(m.subject).substr(0, hash);
      if (hash != std::string::npos) correlation = std::string_view(m.subject).substr(hash + 1);
      exchange = {};
      must_route = 0;
    }
    const outgoing out(m, correlation, {});
    const int rc = amqp_basic_publish(c, messages_channel, bytes(exchange), bytes(routing_key), must_route, 0,
                                      out.properties(), bytes(m.payload));
    progressed();
    if (!conn_->check(rc, "basic.publish").is_ok()) {
      std::move(jobs.begin() + static_cast<std::ptrdiff_t>(i), jobs.end(), std::back_inserter(retry_));
      for (auto& r : requests) finish_request(r->token, unavailable("rabbitmq: the connection broke"));
      return false;
    }
    sent_.push_back({std::move(jobs[i])});
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const outgoing out(r->m, r->token, direct_reply_to);
    const int rc = amqp_basic_publish(c, requests_channel, bytes(options_.exchange), bytes(r->m.subject), 1, 0,
                                      out.properties(), bytes(r->m.payload));
    progressed();
    if (const status s = conn_->check(rc, "basic.publish (request)"); !s.is_ok()) {
      for (std::size_t j = i; j < requests.size(); ++j) finish_request(requests[j]->token, s);
      return false;
    }
    std::lock_guard lock(mu_);
    r->published = true;
  }
  return true;
}

status publisher::read_frames(std::chrono::milliseconds wait) {
  if (!conn_->buffered()) {
    // Something to do soon: a short wait; otherwise until a job, a frame or a heartbeat is due.
    pollfd p[2] = {{conn_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    {
      std::lock_guard lock(mu_);
      if (blocked_) {
        wait = std::min(wait, 100ms);  // only expiries to look after
      } else if (!queue_.empty() || !request_queue_.empty() || !retry_.empty()) {
        wait = 0ms;
      }
    }
    (void)::poll(p, 2, static_cast<int>(wait.count()));
    if ((p[1].revents & POLLIN) != 0) {
      std::uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
    }
  }
  // At least one call, so that the library sends its heartbeats.
  for (int i = 0; i < 4096; ++i) {
    FERRY_ASSIGN_OR_RETURN(auto f, conn_->next_frame(0ms));
    if (!f) break;
    FERRY_RETURN_IF_ERROR(on_frame(*f));
  }
  amqp_maybe_release_buffers(conn_->get());
  complete_prefix();
  return status::ok();
}

status publisher::on_frame(const amqp_frame_t& f) {
  if (f.frame_type != AMQP_FRAME_METHOD) return status::ok();
  switch (f.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* a = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
      confirmed(a->delivery_tag, a->multiple != 0, true);
      return status::ok();
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* a = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
      confirmed(a->delivery_tag, a->multiple != 0, false);
      return status::ok();
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* r = static_cast<const amqp_basic_return_t*>(f.payload.method.decoded);
      const std::string routing_key(view(r->routing_key));
      FERRY_ASSIGN_OR_RETURN(amqp_message_t m, conn_->read_content(f.channel));
      const amqp_basic_properties_t& p = m.properties;
      if (f.channel == requests_channel && (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) != 0) {
        finish_request(std::string(view(p.correlation_id)),
                       unavailable("rabbitmq: no responders: no queue is bound to " + routing_key));
      } else if ((p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
        returned_.emplace_back(view(p.message_id));  // its confirm follows
      }
      amqp_destroy_message(&m);
      return status::ok();
    }
    case AMQP_BASIC_DELIVER_METHOD: {  // a reply (channel 2)
      const auto* d = static_cast<const amqp_basic_deliver_t*>(f.payload.method.decoded);
      const std::string routing_key(view(d->routing_key));
      const bool redelivered = d->redelivered != 0;
      FERRY_ASSIGN_OR_RETURN(amqp_message_t m, conn_->read_content(f.channel));
      message reply = incoming(routing_key, m.properties, m.body, redelivered);
      std::string token;
      if ((m.properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG) != 0) token = view(m.properties.correlation_id);
      amqp_destroy_message(&m);
      finish_request(token, std::move(reply));
      return status::ok();
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* c = static_cast<const amqp_channel_close_t*>(f.payload.method.decoded);
      return unavailable("rabbitmq: the broker closed publishing channel " + std::to_string(f.channel) + ": " +
                         std::string(view(c->reply_text)));
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* b = static_cast<const amqp_connection_blocked_t*>(f.payload.method.decoded);
      blocked_ = std::string(view(b->reason));
      spdlog::warn(
          "rabbitmq: publisher: {} blocks publishing ({}): messages wait until it reads again, up to "
          "publish_timeout",
          address_, *blocked_);
      return status::ok();
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      blocked_.reset();
      spdlog::info("rabbitmq: publisher: {} accepts publishing again", address_);
      return status::ok();
    default:
      return status::ok();
  }
}

void publisher::confirmed(std::uint64_t tag, bool multiple, bool ack) {
  if (tag < first_tag_ || tag >= first_tag_ + sent_.size()) return;
  auto settle = [&](sent& s) {
    if (s.confirmed) return;  // timed out before
    s.confirmed = true;
    if (!ack) {
      s.outcome = unavailable("rabbitmq: the broker refused the message (basic.nack)");
      return;
    }
    if (returned_.empty()) return;
    if (auto it = std::find(returned_.begin(), returned_.end(), s.j.m.id); it != returned_.end()) {
      returned_.erase(it);
      s.outcome = unavailable("rabbitmq: no queue is bound to " + s.j.m.subject + " in exchange " + options_.exchange +
                              ": nobody would receive it");
    }
  };
  const std::size_t last = tag - first_tag_;
  if (multiple) {
    for (std::size_t i = 0; i <= last; ++i) settle(sent_[i]);
  } else {
    settle(sent_[last]);
  }
}

void publisher::complete_prefix() {
  std::size_t done = 0;
  while (!sent_.empty() && sent_.front().confirmed) {
    sent& s = sent_.front();
    s.j.finish(std::move(s.outcome));
    sent_.pop_front();
    ++first_tag_;
    ++done;
  }
  if (done == 0) return;
  trouble_.clear();  // the broker confirms again
  bool idle;
  {
    std::lock_guard lock(mu_);
    in_flight_ -= done;
    idle = idle_locked();
    room_made_locked();
  }
  if (idle) idle_cv_.notify_all();
}

void publisher::connection_lost(const status& why) {
  spdlog::warn("rabbitmq: publisher: {}; {} unconfirmed messages will be published again", why.to_string(),
               std::count_if(sent_.begin(), sent_.end(), [](const sent& s) { return !s.confirmed; }));
  disconnect();  // a closed channel only: the connection closes cleanly
  trouble_ = why.message();
  std::deque<job> again;
  std::size_t done = 0;
  for (sent& s : sent_) {
    if (s.confirmed) {
      s.j.finish(std::move(s.outcome));
      ++done;
    } else {
      again.push_back(std::move(s.j));
    }
  }
  sent_.clear();
  std::move(retry_.begin(), retry_.end(), std::back_inserter(again));
  retry_.swap(again);
  returned_.clear();
  std::vector<std::string> tokens;
  {
    std::lock_guard lock(mu_);
    in_flight_ -= done;
    room_made_locked();
    for (auto& [token, r] : requests_) {
      if (r->published && !r->finished) tokens.push_back(token);
    }
  }
  for (const std::string& t : tokens) {
    finish_request(t, unavailable("rabbitmq: the connection broke before the reply came: " + why.message()));
  }
}

void publisher::fail_expired(steady::time_point now) {
  // Called once per turn of the thread: the status is made only when something did expire.
  const auto late = [&] {
    std::string why = "rabbitmq: not confirmed by the broker within publish_timeout (" +
                      std::to_string(options_.publish_timeout.count()) + " ms)";
    if (blocked_) {
      why += ": the broker blocks publishing (" + *blocked_ + ")";
    } else if (!trouble_.empty()) {
      why += "; last trouble: " + trouble_;
    }
    return unavailable(why);
  };
  std::deque<job> expired;
  {
    std::lock_guard lock(mu_);
    while (!queue_.empty() && queue_.front().give_up < now) {
      expired.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (!expired.empty()) room_made_locked();
  }
  std::size_t done = 0;
  while (!retry_.empty() && retry_.front().give_up < now) {
    expired.push_back(std::move(retry_.front()));
    retry_.pop_front();
    ++done;
  }
  for (sent& s : sent_) {
    if (s.j.give_up >= now) break;
    if (!s.confirmed) {
      s.confirmed = true;
      s.outcome = late();
    }
  }
  for (job& j : expired) j.finish(late());
  if (done > 0) {
    std::lock_guard lock(mu_);
    in_flight_ -= done;
    room_made_locked();
  }
  complete_prefix();
  if (!expired.empty()) idle_cv_.notify_all();
}

void publisher::finish_request(const std::string& token, result<message> r) {
  {
    std::lock_guard lock(mu_);
    auto it = requests_.find(token);
    if (it == requests_.end() || it->second->finished) return;
    it->second->finished = true;
    it->second->reply = std::move(r);
  }
  reply_cv_.notify_all();
}

}  // namespace ferry::rabbitmq::detail
