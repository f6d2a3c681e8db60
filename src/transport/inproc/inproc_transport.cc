// The in-process transport (include/ferry/inproc.h): routing, publish, request and close. The
// subscriptions' queues and turns are in sub_state.cc; the threads in worker_pool.cc and
// redelivery_timer.cc.
#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/close_gate.h"
#include "base/subject_check.h"
#include "base/subject_match.h"
#include "ferry/inproc.h"
#include "transport/inproc/sub_state.h"

namespace ferry::inproc {
namespace {

using detail::engine;
using detail::push_mode;
using detail::sub_state;
using clock = std::chrono::steady_clock;

constexpr std::string_view inbox_prefix = "_INBOX.";
constexpr std::size_t max_cached_routes = 4096;

// Who gets a message published on one subject: every plain subscription, and one member of
// each group.
struct route {
  struct group {
    std::vector<std::shared_ptr<sub_state>> members;
    std::atomic<std::size_t> next{0};  // round-robin position for messages without a key
  };
  std::vector<std::shared_ptr<sub_state>> plain;
  std::vector<std::unique_ptr<group>> groups;
  [[nodiscard]] bool empty() const { return plain.empty() && groups.empty(); }
};

// Where the reply to one request() goes.
struct reply_slot {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<message> reply;  // guarded by mu
  bool cancelled = false;        // guarded by mu: the transport closed
};

// The state subscriptions share with the transport (they may outlive it).
struct bus {
  std::shared_ptr<engine> eng;
  std::mutex mu;
  std::vector<std::shared_ptr<sub_state>> subs;                          // guarded by mu
  std::unordered_map<std::string, std::shared_ptr<const route>> routes;  // guarded by mu
  std::unordered_map<std::string, std::shared_ptr<reply_slot>> inboxes;  // guarded by mu
  std::atomic<bool> closed{false};

  void remove(const sub_state* s) {
    std::lock_guard lock(mu);
    auto it = std::find_if(subs.begin(), subs.end(), [&](const auto& p) { return p.get() == s; });
    if (it == subs.end()) return;
    subs.erase(it);
    routes.clear();
  }

  // The route for literal `subject` (cached until the subscriptions change).
  std::shared_ptr<const route> lookup(const std::string& subject) {
    std::lock_guard lock(mu);
    auto it = routes.find(subject);
    if (it != routes.end()) return it->second;
    auto r = std::make_shared<route>();
    for (const auto& s : subs) {
      if (!subject_matches(s->pattern(), subject)) continue;
      if (s->group().empty()) {
        r->plain.push_back(s);
        continue;
      }
      auto g = std::find_if(r->groups.begin(), r->groups.end(),
                            [&](const auto& x) { return x->members.front()->group() == s->group(); });
      if (g == r->groups.end()) {
        r->groups.push_back(std::make_unique<route::group>());
        g = r->groups.end() - 1;
      }
      (*g)->members.push_back(s);
    }
    if (routes.size() >= max_cached_routes) routes.clear();
    routes.emplace(subject, r);
    return r;
  }

  // Hands a reply to the request waiting on `subject`; false if none does.
  bool answer(const std::string& subject, message& m) {
    std::shared_ptr<reply_slot> slot;
    {
      std::lock_guard lock(mu);
      auto it = inboxes.find(subject);
      if (it == inboxes.end()) return false;
      slot = it->second;
    }
    {
      std::lock_guard lock(slot->mu);
      if (!slot->reply) slot->reply = std::move(m);
    }
    slot->cv.notify_all();
    return true;
  }
};

class inproc_subscription final : public subscription {
 public:
  inproc_subscription(std::weak_ptr<bus> b, std::shared_ptr<sub_state> s) : bus_(std::move(b)), s_(std::move(s)) {}
  ~inproc_subscription() override { stop(); }
  void stop() override {
    if (auto b = bus_.lock()) b->remove(s_.get());
    s_->stop();
  }
  [[nodiscard]] const std::string& subject() const override { return s_->pattern(); }

 private:
  const std::weak_ptr<bus> bus_;
  const std::shared_ptr<sub_state> s_;
};

class inproc_transport final : public transport {
 public:
  explicit inproc_transport(options o) : bus_(std::make_shared<bus>()) {
    if (o.workers == 0) o.workers = std::max(1u, std::thread::hardware_concurrency());
    auto eng = std::make_shared<engine>();
    eng->opts = o;
    eng->pool = detail::worker_pool::start(o.workers, o.batch);
    eng->timer = std::make_unique<detail::redelivery_timer>();
    bus_->eng = std::move(eng);
  }
  ~inproc_transport() override { close(); }

  [[nodiscard]] capabilities caps() const override {
    return {.persistent = false,
            .consumer_groups = true,
            .per_key_order = true,
            .delayed_delivery = true,
            .request_reply = true,
            .redelivery = true,
            .delivery_count = true,
            .wildcards = true,
            .no_responders = true};
  }
  [[nodiscard]] std::string_view name() const override { return "inproc"; }

  status publish(message m) override {
    FERRY_RETURN_IF_ERROR(check_publish(m, std::chrono::system_clock::now()));
    if (m.subject.starts_with(inbox_prefix) && answer(m)) return status::ok();
    auto r = bus_->lookup(m.subject);
    if (r->empty()) return status::ok();  // nobody listens: gone, as on NATS
    return deliver(*r, std::move(m));
  }

  status publish(std::vector<message> ms) override {
    // One route lookup per run of messages with the same subject; one lock per run when the
    // route is a single subscription; one publish time for the whole batch.
    const auto now = std::chrono::system_clock::now();
    std::size_t i = 0;
    while (i < ms.size()) {
      FERRY_RETURN_IF_ERROR(check_publish(ms[i], now));
      const std::string& subject = ms[i].subject;
      if (subject.starts_with(inbox_prefix) && answer(ms[i])) {
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      for (; j < ms.size() && ms[j].subject == subject; ++j) fill_in(ms[j], now);
      auto r = bus_->lookup(subject);
      if (r->plain.size() == 1 && r->groups.empty()) {
        FERRY_RETURN_IF_ERROR(r->plain.front()->push_many(std::span<message>(ms.data() + i, j - i), push_mode_here()));
      } else if (!r->empty()) {
        for (std::size_t k = i; k < j; ++k) FERRY_RETURN_IF_ERROR(deliver(*r, std::move(ms[k])));
      }
      i = j;
    }
    return status::ok();
  }

  status flush(std::chrono::milliseconds timeout) override {
    // From a callback on the only worker nothing can be handed over while this waits: it looks,
    // and reports what is still queued.
    const bool alone = sub_state::in_callback_of(bus_->eng.get()) && bus_->eng->opts.workers <= 1;
    const auto deadline = alone ? clock::now() : clock::now() + timeout;
    std::vector<std::shared_ptr<sub_state>> subs;
    {
      std::lock_guard lock(bus_->mu);
      subs = bus_->subs;
    }
    status first;  // every subscription gets its chance to drain, not only those before a failure
    for (const auto& s : subs) {
      if (!s->wait_drained(deadline) && first.is_ok()) {
        first = deadline_exceeded("inproc flush: subscription '" + s->pattern() + "' still has queued messages");
      }
    }
    return first;
  }

  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options options,
                                                  delivery_callback callback) override {
    if (bus_->closed.load()) return failed_precondition("inproc transport is closed");
    FERRY_RETURN_IF_ERROR(check_subject(subject, subject_use::subscribe));
    if (options.max_in_flight == 0) return invalid_argument("max_in_flight must be at least 1");
    if (!callback) return invalid_argument("subscribe needs a callback");
    auto s = std::make_shared<sub_state>(
        bus_->eng, std::move(subject), std::move(options),
        ::ferry::detail::scoped_callback(static_cast<const transport*>(this), std::move(callback)));
    {
      std::lock_guard lock(bus_->mu);
      bus_->subs.push_back(s);
      bus_->routes.clear();
    }
    return std::unique_ptr<subscription>(std::make_unique<inproc_subscription>(bus_, std::move(s)));
  }

  result<message> request(message m, std::chrono::milliseconds timeout) override {
    FERRY_RETURN_IF_ERROR(check_publish(m, std::chrono::system_clock::now()));
    if (bus_->lookup(m.subject)->empty()) return unavailable("no responders on '" + m.subject + "'");
    const std::string inbox = std::string(inbox_prefix) + new_id();
    auto slot = std::make_shared<reply_slot>();
    {
      std::lock_guard lock(bus_->mu);
      bus_->inboxes.emplace(inbox, slot);
    }
    m.reply = inbox;
    status st = publish(std::move(m));
    std::optional<message> reply;
    bool cancelled = false;
    if (st.is_ok()) {
      std::unique_lock lock(slot->mu);
      slot->cv.wait_for(lock, timeout, [&] { return slot->reply.has_value() || slot->cancelled; });
      reply = std::move(slot->reply);
      cancelled = slot->cancelled;
    }
    {
      std::lock_guard lock(bus_->mu);
      bus_->inboxes.erase(inbox);
    }
    if (!st.is_ok()) return st;
    if (reply) return std::move(*reply);
    if (cancelled) return status(status_code::cancelled, "inproc transport closed during the request");
    return deadline_exceeded("no reply within " + std::to_string(timeout.count()) + " ms");
  }

  void close() override {
    if (!close_->begin(::ferry::detail::callback_scope::inside(static_cast<const transport*>(this)))) return;
    {
      bus_->closed.store(true);
      (void)flush(bus_->eng->opts.close_timeout);
      std::vector<std::shared_ptr<sub_state>> subs;
      std::unordered_map<std::string, std::shared_ptr<reply_slot>> inboxes;
      {
        std::lock_guard lock(bus_->mu);
        subs.swap(bus_->subs);
        inboxes.swap(bus_->inboxes);
        bus_->routes.clear();
      }
      for (auto& [name, slot] : inboxes) {
        std::lock_guard lock(slot->mu);
        slot->cancelled = true;
        slot->cv.notify_all();
      }
      for (const auto& s : subs) s->stop();
      bus_->eng->timer->stop();
      bus_->eng->pool->stop();
    }
    ::ferry::detail::close_gate::finish(close_, static_cast<const transport*>(this));
  }

 private:
  status check_publish(message& m, std::chrono::system_clock::time_point now) const {
    if (bus_->closed.load(std::memory_order_relaxed)) return failed_precondition("inproc transport is closed");
    FERRY_RETURN_IF_ERROR(check_subject(m.subject, subject_use::publish));
    fill_in(m, now);
    return status::ok();
  }
  // The id of a message without one is drawn where it is delivered when it goes to a single
  // subscription (so the id's memory is allocated and freed on one thread), and here otherwise
  // (every copy must carry the same id).
  static void fill_in(message& m, std::chrono::system_clock::time_point now) {
    m.delivery = delivery_info{};
    m.delivery.published = now;
  }
  bool answer(message& m) {
    if (m.id.empty()) m.id = new_id();
    return bus_->answer(m.subject, m);
  }
  [[nodiscard]] push_mode push_mode_here() const {
    return sub_state::in_callback_of(bus_->eng.get()) ? push_mode::over_bound : push_mode::policy;
  }

  // Queues `m` for every plain subscription of `r` and one member of each group (see the header
  // comment for the back-pressure choices).
  status deliver(const route& r, message&& m) {
    const push_mode mode = push_mode_here();
    const std::size_t targets = r.plain.size() + r.groups.size();
    if (targets == 1 && !r.plain.empty()) return r.plain.front()->push(m, mode);
    if (m.id.empty()) m.id = new_id();

    struct waiting {
      sub_state* s;
      message m;
    };
    std::vector<waiting> full;
    std::size_t index = 0;
    auto next_copy = [&]() -> message { return ++index == targets ? std::move(m) : message(m); };
    for (const auto& s : r.plain) {
      message c = next_copy();
      if (!s->push(c, mode == push_mode::over_bound ? mode : push_mode::try_only).is_ok()) {
        full.push_back({s.get(), std::move(c)});
      }
    }
    for (const auto& g : r.groups) {
      message c = next_copy();
      const std::size_t n = g->members.size();
      const bool keyed = !c.key.empty();
      const std::size_t first =
          keyed ? std::hash<std::string>{}(c.key) % n : g->next.fetch_add(1, std::memory_order_relaxed) % n;
      bool queued = false;
      // A keyed message stays with its member (its order); others go to any member with room.
      for (std::size_t i = 0; i < (keyed ? 1 : n) && !queued; ++i) {
        queued =
            g->members[(first + i) % n]->push(c, mode == push_mode::over_bound ? mode : push_mode::try_only).is_ok();
      }
      if (!queued) full.push_back({g->members[first].get(), std::move(c)});
    }
    status first_error;
    for (waiting& w : full) {
      status st = w.s->push(w.m, push_mode::policy);
      if (!st.is_ok() && first_error.is_ok()) first_error = std::move(st);
    }
    return first_error;
  }

  const std::shared_ptr<bus> bus_;
  const std::shared_ptr<::ferry::detail::close_gate> close_ = std::make_shared<::ferry::detail::close_gate>();
};

}  // namespace

std::unique_ptr<transport> make_transport(options o) { return std::make_unique<inproc_transport>(o); }

}  // namespace ferry::inproc
