#include "transport/nats/core_source.h"

#include <spdlog/spdlog.h>

namespace ferry::nats::detail {

namespace {

// Core NATS has no acknowledgements: settling only frees the in-flight slot.
class core_settler final : public settler {
 public:
  explicit core_settler(std::shared_ptr<in_flight_gate> g) : gate_(std::move(g)) {}
  void ack() override { gate_->release(); }
  void nack(std::chrono::milliseconds) override { gate_->release(); }
  void term(std::string_view) override { gate_->release(); }

 private:
  const std::shared_ptr<in_flight_gate> gate_;
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
    message m = from_nats(raw);
    m.delivery.transport = name_;
    m.attach(std::make_unique<core_settler>(gate));
    out.push_back(std::move(m));
  }

  const std::shared_ptr<client> client_;  // outlives sub_
  natsSubscription* const sub_;
  const std::string_view name_;
};

}  // namespace

result<std::unique_ptr<subscription>> subscribe_core(const std::shared_ptr<client>& c, std::string_view transport_name,
                                                     std::string subject, const subscription_options& o,
                                                     delivery_callback cb, loop_registry& loops) {
  if (o.max_in_flight == 0) return invalid_argument("max_in_flight must be at least 1");
  if (!cb) return invalid_argument("subscribe needs a callback");
  auto sub = subscribe_sync(*c, subject, o.group);
  if (!sub.is_ok()) return sub.status();
  auto loop = std::make_shared<delivery_loop>(subject, std::make_unique<core_source>(c, *sub, transport_name),
                                              std::move(cb), o.max_in_flight, o.max_in_flight, c->opts().poll_interval);
  loop->start();
  loops.add(loop);
  return std::unique_ptr<subscription>(std::make_unique<loop_subscription>(std::move(loop)));
}

}  // namespace ferry::nats::detail
