#include "transport/rabbitmq/consumer.h"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace ferry::rabbitmq::detail {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr amqp_channel_t channel = 1;
// Frames handled per round at most: the settlements recorded meanwhile (one multiple ack for
// what the callbacks acked) go out between rounds.
constexpr int frames_per_round = 256;

}  // namespace

// --- settlements ---

settlements::settlements() : wake_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

settlements::~settlements() {
  if (wake_fd >= 0) ::close(wake_fd);
}

void settlements::add(const record& r) {
  bool first;
  {
    std::lock_guard lock(mu);
    first = records.empty();
    records.push_back(r);
  }
  if (first) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
}

void rabbit_settler::start(std::shared_ptr<settlements> owner, std::uint32_t generation, std::uint64_t tag) {
  reset();
  owner_ = std::move(owner);
  generation_ = generation;
  tag_ = tag;
}

void rabbit_settler::record(settlements::kind k, std::chrono::milliseconds delay) {
  owner_->add({generation_, tag_, k, delay});
}

void rabbit_settler::release() {
  // `keep` may be the last reference to the pool, which owns this settler: nothing touches `this`
  // after give_back().
  const std::shared_ptr<settlements> keep = std::move(owner_);
  keep->pool.give_back(this);
}

// --- consumer ---

consumer::consumer(const std::string& address, const options& o, config c)
    : address_(address), options_(o), config_(std::move(c)), s_(std::make_shared<settlements>()) {}

consumer::~consumer() { stop(); }

result<std::shared_ptr<consumer>> consumer::start(const std::string& address, const options& o, config c) {
  std::shared_ptr<consumer> self(new consumer(address, o, std::move(c)));
  if (self->s_->wake_fd < 0) return errno_status("rabbitmq: eventfd", errno);
  // Several members declaring one quorum queue at the same moment can see the broker refuse one
  // of the declares while the queue's Raft group forms (seen with ten at once under load): a
  // setup that fails for another reason than the request itself is tried again, on a fresh
  // connection, a few times.
  status set_up;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    set_up = self->setup();
    const status_code c = set_up.code();
    if (set_up.is_ok() || c == status_code::invalid_argument || c == status_code::failed_precondition ||
        c == status_code::permission_denied || c == status_code::unauthenticated || attempt == 4) {
      break;
    }
    spdlog::info("rabbitmq: subscribing to {} (queue {}) failed: {}; trying again", self->config_.subject,
                 self->config_.queue, set_up.to_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
  }
  FERRY_RETURN_IF_ERROR(set_up);
  self->thread_.start(self, &consumer::run);
  return self;
}

status consumer::setup() {
  conn_.reset();
  const std::string name =
      options_.connection_name + " " + (config_.group.empty() ? "sub" : config_.group) + " " + config_.subject;
  FERRY_ASSIGN_OR_RETURN(conn_, connection::open(address_, options_, name, 1));
  FERRY_RETURN_IF_ERROR(declare_exchange(*conn_, channel, options_.exchange));
  const bool own = config_.group.empty();
  FERRY_RETURN_IF_ERROR(declare_queue(*conn_, channel,
                                      {.name = config_.queue,
                                       .dead_letter_exchange = options_.dead_letter_exchange,
                                       .expires_ms = own ? options_.unused_queue_expiry.count() : -1}));
  FERRY_RETURN_IF_ERROR(
      bind_queue(*conn_, channel, config_.queue, options_.exchange, binding_pattern(config_.subject)));
  const auto prefetch =
      static_cast<std::uint16_t>(std::clamp<std::size_t>(config_.subscription.max_in_flight, 1, 65535));
  amqp_basic_qos(conn_->get(), channel, 0, prefetch, 0);
  FERRY_RETURN_IF_ERROR(conn_->rpc_status("basic.qos", channel));
  amqp_basic_consume(conn_->get(), channel, bytes(config_.queue), amqp_empty_bytes, /*no_local=*/0, /*no_ack=*/0,
                     /*exclusive=*/0, amqp_empty_table);
  FERRY_RETURN_IF_ERROR(conn_->rpc_status("basic.consume " + config_.queue, channel));
  ++generation_;
  slots_.clear();
  next_timer_ = steady::time_point::max();
  return status::ok();
}

void consumer::stop() {
  stopping_.store(true);
  const std::uint64_t one = 1;
  (void)!::write(s_->wake_fd, &one, sizeof one);
  thread_.join();
}

void consumer::run() {
  pthread_setname_np(pthread_self(), "ferry-amqp-sub");
  while (!stopping_.load()) {
    status st = conn_ && !conn_->broken() ? round() : setup();
    if (st.is_ok()) {
      backoff_ = 0ms;
      continue;
    }
    if (stopping_.load()) break;
    backoff_ = std::clamp(backoff_ * 2, 100ms, 2000ms);
    spdlog::warn("rabbitmq: subscription {} ({}): {}; connecting again in {} ms", config_.subject, config_.queue,
                 st.to_string(), backoff_.count());
    conn_.reset();
    pollfd p{s_->wake_fd, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(backoff_.count()));
  }
  finish();
}

status consumer::round() {
  FERRY_RETURN_IF_ERROR(apply_records());
  const auto now = steady::now();
  if (now >= next_timer_) FERRY_RETURN_IF_ERROR(requeue_due(now));
  FERRY_RETURN_IF_ERROR(send_acks());
  const auto wait = next_timer_ == steady::time_point::max()
                        ? 1000ms
                        : std::clamp(std::chrono::ceil<std::chrono::milliseconds>(next_timer_ - now), 0ms, 1000ms);
  return read_frames(wait);
}

consumer::slot* consumer::find(std::uint64_t tag) {
  if (slots_.empty() || tag < slots_.front().tag) return nullptr;
  const std::uint64_t i = tag - slots_.front().tag;
  if (i < slots_.size() && slots_[i].tag == tag) return &slots_[i];
  // Tags of one channel are consecutive; this is only a safety net.
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const slot& s) { return s.tag == tag; });
  return it == slots_.end() ? nullptr : &*it;
}

status consumer::give_back(slot& s, std::string_view why) {
  s.st = state::done;
  const std::uint32_t max = config_.subscription.max_deliver;
  if (max > 0 && s.count >= max) {
    spdlog::warn("rabbitmq: {}: a message was delivered {} times (max_deliver {}) and {}: rejected{}", config_.queue,
                 s.count, max, why,
                 options_.dead_letter_exchange.empty() ? " (dropped)" : " to " + options_.dead_letter_exchange);
    return conn_->check(amqp_basic_reject(conn_->get(), channel, s.tag, /*requeue=*/0), "basic.reject");
  }
  return conn_->check(amqp_basic_nack(conn_->get(), channel, s.tag, /*multiple=*/0, /*requeue=*/1), "basic.nack");
}

status consumer::apply_records() {
  records_.clear();
  {
    std::lock_guard lock(s_->mu);
    records_.swap(s_->records);
  }
  const auto now = steady::now();
  for (const settlements::record& r : records_) {
    if (r.generation != generation_) continue;  // from a lost channel: the broker requeued it
    slot* s = find(r.tag);
    if (s == nullptr || s->st == state::done || s->st == state::acked) continue;  // requeued after ack_wait
    switch (r.what) {
      case settlements::kind::ack:
        s->st = state::acked;
        break;
      case settlements::kind::term:
        s->st = state::done;
        FERRY_RETURN_IF_ERROR(
            conn_->check(amqp_basic_reject(conn_->get(), channel, s->tag, /*requeue=*/0), "basic.reject"));
        break;
      case settlements::kind::nack:
        if (r.delay <= 0ms) {
          FERRY_RETURN_IF_ERROR(give_back(*s, "was nacked"));
        } else {
          s->st = state::held;
          s->until = now + r.delay;
          next_timer_ = std::min(next_timer_, s->until);
        }
        break;
      case settlements::kind::touch:
        if (s->st == state::unsettled) s->until = now + config_.subscription.ack_wait;
        break;
    }
  }
  return status::ok();
}

status consumer::requeue_due(steady::time_point now) {
  next_timer_ = steady::time_point::max();
  for (slot& s : slots_) {
    if (s.st != state::unsettled && s.st != state::held) continue;
    if (s.until > now) {
      next_timer_ = std::min(next_timer_, s.until);
      continue;
    }
    if (s.st == state::unsettled) {
      spdlog::debug("rabbitmq: {}: delivery {} unsettled after ack_wait: requeued", config_.queue, s.tag);
    }
    FERRY_RETURN_IF_ERROR(give_back(s, s.st == state::held ? "was nacked" : "was not settled within ack_wait"));
  }
  return status::ok();
}

status consumer::send_acks() {
  // The settled prefix in one multiple ack (the nacked and rejected ones in it were answered already).
  std::uint64_t last = 0;
  while (!slots_.empty() && (slots_.front().st == state::acked || slots_.front().st == state::done)) {
    if (slots_.front().st == state::acked) last = slots_.front().tag;
    slots_.pop_front();
  }
  if (last != 0) {
    FERRY_RETURN_IF_ERROR(conn_->check(amqp_basic_ack(conn_->get(), channel, last, /*multiple=*/1), "basic.ack"));
  }
  // Acks behind an unsettled delivery go one by one: held back, they would hold prefetch slots.
  for (slot& s : slots_) {
    if (s.st != state::acked) continue;
    s.st = state::done;
    FERRY_RETURN_IF_ERROR(conn_->check(amqp_basic_ack(conn_->get(), channel, s.tag, /*multiple=*/0), "basic.ack"));
  }
  return status::ok();
}

status consumer::read_frames(std::chrono::milliseconds wait) {
  if (!conn_->buffered()) {
    pollfd p[2] = {{conn_->fd(), POLLIN, 0}, {s_->wake_fd, POLLIN, 0}};
    (void)::poll(p, 2, static_cast<int>(wait.count()));
    if ((p[1].revents & POLLIN) != 0) {
      std::uint64_t n;
      (void)!::read(s_->wake_fd, &n, sizeof n);
    }
  }
  for (int i = 0; i < frames_per_round && !stopping_.load(); ++i) {
    FERRY_ASSIGN_OR_RETURN(auto f, conn_->next_frame(0ms));
    if (!f) break;
    if (f->frame_type != AMQP_FRAME_METHOD) continue;
    switch (f->payload.method.id) {
      case AMQP_BASIC_DELIVER_METHOD:
        FERRY_RETURN_IF_ERROR(deliver(*f));
        break;
      case AMQP_BASIC_CANCEL_METHOD:
        return unavailable("rabbitmq: the broker cancelled the consumer (queue " + config_.queue + " deleted?)");
      case AMQP_CHANNEL_CLOSE_METHOD: {
        const auto* c = static_cast<const amqp_channel_close_t*>(f->payload.method.decoded);
        return unavailable("rabbitmq: the broker closed the channel: " + std::string(view(c->reply_text)));
      }
      default:
        break;
    }
  }
  amqp_maybe_release_buffers(conn_->get());
  return status::ok();
}

status consumer::deliver(const amqp_frame_t& f) {
  const auto* d = static_cast<const amqp_basic_deliver_t*>(f.payload.method.decoded);
  const std::uint64_t tag = d->delivery_tag;
  const bool redelivered = d->redelivered != 0;
  routing_key_.assign(view(d->routing_key));  // the frame's memory may be reused by the reads below
  FERRY_ASSIGN_OR_RETURN(amqp_message_t content, conn_->read_content(f.channel));
  message m = incoming(routing_key_, content.properties, content.body, redelivered);
  amqp_destroy_message(&content);
  const auto now = steady::now();
  slot& s = slots_.emplace_back(slot{.tag = tag,
                                     .count = static_cast<std::uint32_t>(m.delivery.delivery_count),
                                     .until = now + config_.subscription.ack_wait});
  next_timer_ = std::min(next_timer_, s.until);
  const std::uint32_t max = config_.subscription.max_deliver;
  if (max > 0 && s.count > max) return give_back(s, "came back");
  if (stopping_.load()) return status::ok();  // unacknowledged: the broker requeues it at close
  rabbit_settler* st = s_->pool.take();
  st->start(s_, generation_, tag);
  m.attach(st);
  config_.callback(std::move(m));
  return status::ok();
}

void consumer::finish() {
  if (conn_ && !conn_->broken()) {
    // What was acknowledged reaches the broker before the subscription ends: a graceful stop
    // must not leave handled messages to be handled again.
    status s = apply_records();
    if (s.is_ok()) s = send_acks();
    if (s.is_ok() && config_.group.empty()) {
      amqp_queue_delete(conn_->get(), channel, bytes(config_.queue), /*if_unused=*/0, /*if_empty=*/0);
      s = conn_->rpc_status("queue.delete " + config_.queue, channel);
    }
    if (!s.is_ok()) spdlog::warn("rabbitmq: subscription {}: stopping: {}", config_.subject, s.to_string());
  }
  conn_.reset();
}

}  // namespace ferry::rabbitmq::detail
