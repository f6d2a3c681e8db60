#include "sdk/handler_runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/close_gate.h"

namespace ferry::detail {

namespace {

std::vector<handler_middleware> chain_of(const std::vector<handler_middleware>& router_level,
                                         const std::vector<handler_middleware>& handler_level) {
  std::vector<handler_middleware> all = router_level;
  all.insert(all.end(), handler_level.begin(), handler_level.end());
  return all;
}

std::size_t queue_capacity(const handler_options& o) {
  const std::size_t wanted = o.queue_size ? o.queue_size : o.subscription.max_in_flight;
  return std::max<std::size_t>(wanted, 1);
}

}  // namespace

handler_runtime::handler_runtime(handler_options options, handler h,
                                 const std::vector<handler_middleware>& router_middleware, transport& in,
                                 publisher& out)
    : options_(std::move(options)),
      in_(in),
      queue_(queue_capacity(options_), options_.order == ordering::per_key),
      slots_(std::make_unique<slot[]>(options_.concurrency)) {
  info_.name = options_.name;
  info_.subject = options_.subject;
  info_.group = options_.group;
  info_.caps = in.caps();
  info_.stop = stop_source_.get_token();
  chain_ = compose(std::move(h), chain_of(router_middleware, options_.middleware), info_);
  env_.name = &options_.name;
  env_.out = &out;
  env_.publish_subject = &options_.publish_subject;
  env_.delayed_delivery = info_.caps.delayed_delivery;
  env_.stop = info_.stop;
  env_.counters = &counters_;
}

handler_runtime::~handler_runtime() {
  begin_stop();
  join();
}

status handler_runtime::subscribe() {
  subscription_options so = options_.subscription;
  so.group = options_.group;
  auto sub = in_.subscribe(options_.subject, std::move(so), [this](message m) { on_delivery(std::move(m)); });
  if (!sub.is_ok())
    return sub.status().with_context("handler " + options_.name + ": subscribing to " + options_.subject);
  sub_ = std::move(sub).value();
  return status::ok();
}

void handler_runtime::start_workers() {
  workers_.reserve(options_.concurrency);
  for (std::size_t i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this, i] { worker_loop(slots_[i]); });
}

void handler_runtime::on_delivery(message m) {
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  if (!queue_.push(m)) {
    // Stopping: the transport keeps it (a persistent one delivers it again).
    m.nack();
    counters_.count(settlement::nacked);
  }
}

void handler_runtime::worker_loop(slot& s) {
  while (auto it = queue_.pop()) {
    {
      std::lock_guard lock(slots_mu_);
      s.current = &it->msg;
      s.abandoned.store(false, std::memory_order_relaxed);
    }
    {
      // A handler runs here, not on the transport's delivery thread: a close() of the transport
      // from it must not wait for a close() that waits for that thread (blocked in push()).
      const callback_scope scope(static_cast<const transport*>(&in_));
      dispatch(it->msg, chain_, env_, &s.abandoned);
    }
    {
      std::lock_guard lock(slots_mu_);
      s.current = nullptr;
    }
    queue_.done(*it);
  }
}

void handler_runtime::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  stop_source_.request_stop();
  queue_.close();  // before stopping the subscription: it waits for callbacks blocked in push()
  if (sub_) sub_->stop();
  for (message& m : queue_.drain()) {
    m.nack();
    counters_.count(settlement::nacked);
  }
}

bool handler_runtime::wait_idle(std::chrono::steady_clock::time_point deadline) { return queue_.wait_idle(deadline); }

void handler_runtime::abandon_running() {
  std::lock_guard lock(slots_mu_);
  for (std::size_t i = 0; i < options_.concurrency; ++i) {
    slot& s = slots_[i];
    if (!s.current) continue;
    s.abandoned.store(true, std::memory_order_release);
    if (s.current->nack()) {
      counters_.count(settlement::nacked);
      spdlog::warn("{}: stop grace expired while handling {}; nacked it", options_.name, s.current->id);
    }
  }
}

void handler_runtime::join() {
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
}

handler_stats handler_runtime::stats() const {
  handler_stats s;
  s.received = counters_.received.load(std::memory_order_relaxed);
  s.acked = counters_.acked.load(std::memory_order_relaxed);
  s.retried = counters_.retried.load(std::memory_order_relaxed);
  s.dropped = counters_.dropped.load(std::memory_order_relaxed);
  s.published = counters_.published.load(std::memory_order_relaxed);
  s.publish_failures = counters_.publish_failures.load(std::memory_order_relaxed);
  s.exceptions = counters_.exceptions.load(std::memory_order_relaxed);
  s.in_flight = queue_.running();
  s.queued = queue_.queued();
  return s;
}

}  // namespace ferry::detail
