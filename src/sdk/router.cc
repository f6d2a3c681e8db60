#include "ferry/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "ferry/check.h"
#include "sdk/handler_runtime.h"

namespace ferry {

struct router::impl {
  enum class phase { idle, running, stopped };

  impl(transport& in_, publisher& out_) : in(in_), out(out_) {}

  detail::handler_runtime* find(const std::string& name) const {
    auto it = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h->name() == name; });
    return it == handlers.end() ? nullptr : it->get();
  }

  transport& in;
  publisher& out;
  mutable std::mutex mu;  // guards everything below; never held while a handler runs
  phase state = phase::idle;
  std::vector<handler_middleware> middleware;
  std::vector<std::unique_ptr<detail::handler_runtime>> handlers;
};

router::router(transport& in, publisher* out) : impl_(std::make_unique<impl>(in, out ? *out : in)) {}

router::~router() {
  stop();
  // Handlers still running after the grace hold their runtime: wait for them before freeing it.
  for (auto& h : impl_->handlers) h->join();
}

router& router::use(handler_middleware m) {
  std::lock_guard lock(impl_->mu);
  FERRY_CHECK_MSG(impl_->state == impl::phase::idle, "router::use() after start()");
  impl_->middleware.push_back(std::move(m));
  return *this;
}

status router::add_handler(handler_options options, handler h) {
  if (options.subject.empty()) return invalid_argument("handler without a subject");
  if (options.concurrency == 0) return invalid_argument("handler " + options.subject + ": concurrency 0");
  if (!h) return invalid_argument("handler " + options.subject + ": empty handler function");
  if (options.name.empty()) options.name = options.subject;
  std::lock_guard lock(impl_->mu);
  if (impl_->state == impl::phase::stopped) return failed_precondition("router stopped");
  if (impl_->find(options.name)) return already_exists("handler " + options.name);
  auto rt = std::make_unique<detail::handler_runtime>(std::move(options), std::move(h), impl_->middleware, impl_->in,
                                                      impl_->out);
  if (impl_->state == impl::phase::running) {
    FERRY_RETURN_IF_ERROR(rt->subscribe());
    rt->start_workers();
  }
  impl_->handlers.push_back(std::move(rt));
  return status::ok();
}

status router::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->state != impl::phase::idle) return failed_precondition("router already started");
  for (auto& h : impl_->handlers) {
    status s = h->subscribe();
    if (s.is_ok()) continue;
    for (auto& started : impl_->handlers) started->begin_stop();  // nacks what was queued
    impl_->handlers.clear();
    impl_->state = impl::phase::stopped;
    return s;
  }
  for (auto& h : impl_->handlers) h->start_workers();
  impl_->state = impl::phase::running;
  return status::ok();
}

void router::stop(std::chrono::milliseconds grace) {
  std::vector<detail::handler_runtime*> handlers;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->state == impl::phase::stopped) return;
    impl_->state = impl::phase::stopped;
    for (auto& h : impl_->handlers) handlers.push_back(h.get());
  }
  // Handlers added from now on are refused (state stopped), so `handlers` is the whole set.
  // Their subscriptions stop side by side: a transport's stop() may wait for a read in progress
  // (Redis: up to its `block`), and one handler after another would wait that long each.
  {
    std::vector<std::jthread> stopping;  // joined at the end of this block
    stopping.reserve(handlers.size());
    for (std::size_t i = 1; i < handlers.size(); ++i) {
      try {
        stopping.emplace_back([h = handlers[i]] { h->begin_stop(); });
      } catch (const std::system_error&) {
        handlers[i]->begin_stop();  // no thread to be had: here, then
      }
    }
    if (!handlers.empty()) handlers[0]->begin_stop();
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto* h : handlers) {
    if (h->wait_idle(deadline)) {
      h->join();  // workers exit at once: the queue is closed
    } else {
      h->abandon_running();  // joined by the destructor, once those calls return
    }
  }
}

bool router::running() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state == impl::phase::running;
}

handler_stats router::stats(const std::string& handler_name) const {
  std::lock_guard lock(impl_->mu);
  const detail::handler_runtime* h = impl_->find(handler_name);
  return h ? h->stats() : handler_stats{};
}

}  // namespace ferry
