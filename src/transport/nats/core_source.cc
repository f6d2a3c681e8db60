#include "transport/nats/core_source.h"

#include <spdlog/spdlog.h>

#include "base/subject_check.h"
#include "ferry/settler_pool.h"

namespace ferry::nats::detail {

namespace {

class core_settler;

// At most this many messages are taken from nats.c before they are handed to the callback: enough
// to take the in-flight slots once per batch, few enough that a message is still in the cache
// when its turn comes. Measured on the delivery thread (transport_throughput, CPU per message):
// batches of up to 4,096 (the in-flight limit) ~650 ns, 256 ~580, 16 ~500, 1 ~600.
constexpr std::size_t core_batch = 16;

// What the settlers of one subscription share. It lives while the subscription or any of its
// deliveries does (each settler in use holds it), so the pool outlives every settler it made.
struct core_deliveries {
  explicit core_deliveries(std::shared_ptr<in_flight_gate> g) : gate(std::move(g)) {}
  const std::shared_ptr<in_flight_gate> gate;
  settler_pool<core_settler> pool;  // taken by the delivery thread only
};

// Core NATS has no acknowledgements: settling only frees the in-flight slot. Pooled per
// subscription: once no copy of the delivered message is left, it serves a later delivery.
class core_settler final : public settler {
 public:
  void start(std::shared_ptr<core_deliveries> owner) {
    reset();
    owner_ = std::move(owner);
  }
  void ack() override { owner_->gate->release(); }
  void nack(std::chrono::milliseconds) override { owner_->gate->release(); }
  void term(std::string_view) override { owner_->gate->release(); }

  core_settler* pool_next = nullptr;  // in the pool's free stack

 private:
  void release() override {
    // `keep` may be the last reference to the pool, which owns this settler: nothing touches
    // `this` after give_back().
    const std::shared_ptr<core_deliveries> keep = std::move(owner_);
    keep->pool.give_back(this);
  }
  std::shared_ptr<core_deliveries> owner_;  // while a message refers to this delivery
};

class core_source final : public delivery_loop::source {
 public:
  core_source(std::shared_ptr<client> c, natsSubscription* sub, std::string_view name)
      : client_(std::move(c)), sub_(sub), name_(name) {}
  ~core_source() override { natsSubscription_Destroy(sub_); }

  bool next(std::size_t max, std::chrono::milliseconds wait, const std::shared_ptr<in_flight_gate>& gate,
            std::vector<message>& out) override {
    natsMsg* raw = nullptr;
    natsStatus s = natsSubscription_NextMsg(&raw, sub_, std::max<std::int64_t>(wait.count(), 1));
    if (s == NATS_TIMEOUT) return true;
    if (s == NATS_SLOW_CONSUMER) {
      spdlog::warn("{}: subscription '{}' dropped messages (slow consumer)", name_, natsSubscription_GetSubject(sub_));
      return true;
    }
    if (s != NATS_OK) return false;
    add(raw, gate, out);
    // Whatever the library already holds, without waiting (a zero timeout never blocks).
    while (out.size() < max && natsSubscription_NextMsg(&raw, sub_, 0) == NATS_OK) add(raw, gate, out);
    return true;
  }

  void interrupt() override { natsSubscription_Unsubscribe(sub_); }

 private:
  void add(natsMsg* raw, const std::shared_ptr<in_flight_gate>& gate, std::vector<message>& out) {
    msg_ptr owned(raw);
    message& m = out.emplace_back();
    from_nats(raw, m);
    m.delivery.transport = name_;
    if (!deliveries_) deliveries_ = std::make_shared<core_deliveries>(gate);  // the loop's gate never changes
    core_settler* s = deliveries_->pool.take();
    s->start(deliveries_);
    m.attach(s);
  }

  const std::shared_ptr<client> client_;         // outlives sub_
  std::shared_ptr<core_deliveries> deliveries_;  // made on the first delivery
  natsSubscription* const sub_;
  const std::string_view name_;
};

}  // namespace

result<std::unique_ptr<subscription>> subscribe_core(const std::shared_ptr<client>& c, std::string_view transport_name,
                                                     std::string subject, const subscription_options& o,
                                                     delivery_callback cb, loop_registry& loops) {
  if (o.max_in_flight == 0) return invalid_argument("max_in_flight must be at least 1");
  if (!cb) return invalid_argument("subscribe needs a callback");
  FERRY_RETURN_IF_ERROR(check_subject(subject, subject_use::subscribe));
  auto sub = subscribe_sync(*c, subject, o.group);
  if (!sub.is_ok()) return sub.status();
  auto loop = std::make_shared<delivery_loop>(subject, std::make_unique<core_source>(c, *sub, transport_name),
                                              std::move(cb), o.max_in_flight, core_batch, c->opts().poll_interval);
  loop->start();
  if (!loops.add(loop)) {  // the transport's close() ran meanwhile
    loop->stop();
    return failed_precondition("subscribe after the transport was closed");
  }
  return std::unique_ptr<subscription>(std::make_unique<loop_subscription>(std::move(loop)));
}

}  // namespace ferry::nats::detail
