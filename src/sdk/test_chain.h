// chain_runner: runs a middleware chain on delivered messages and settles them with the router's
// own settlement path (detail::settle), without threads or a router, for middleware tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ferry/handler.h"
#include "sdk/dispatch.h"
#include "sdk/test_transport.h"

namespace ferry::testing {

struct run_result {
  settlement state = settlement::pending;
  std::chrono::milliseconds delay{0};
  std::string reason;
  outcome result = outcome::ack();  // as settled (a failed output publish turned into a retry)
};

// Records the one settlement of a delivery in `r` (which outlives it).
class record_settler : public settler {
 public:
  explicit record_settler(run_result& r) : r_(r) {}
  void ack() override { r_.state = settlement::acked; }
  void nack(std::chrono::milliseconds d) override {
    r_.state = settlement::nacked;
    r_.delay = d;
  }
  void term(std::string_view reason) override {
    r_.state = settlement::terminated;
    r_.reason = std::string(reason);
  }

 private:
  run_result& r_;
};

class chain_runner {
 public:
  chain_runner(std::vector<handler_middleware> chain, handler h, capabilities caps = test_transport::default_caps())
      : out(caps) {
    info.name = "h";
    info.subject = "in";
    info.caps = caps;
    info.stop = stop.get_token();
    composed = compose(std::move(h), chain, info);
    env.name = &info.name;
    env.out = &out;
    env.publish_subject = &publish_subject;
    env.delayed_delivery = caps.delayed_delivery;
    env.stop = info.stop;
    env.counters = &counters;
  }

  // Delivers `m` (delivery_count as set in it) through the chain and settles it.
  run_result run(message m) {
    run_result r;
    if (m.id.empty()) m.id = new_id();
    m.attach(std::make_unique<record_settler>(r));
    r.result = composed(m);
    detail::settle(m, r.result, env);
    return r;
  }

  test_transport out;  // outputs and dead letters are published here
  std::stop_source stop;
  handler_info info;
  handler composed;
  std::string publish_subject;
  detail::handler_counters counters;
  detail::dispatch_env env;
};

}  // namespace ferry::testing
