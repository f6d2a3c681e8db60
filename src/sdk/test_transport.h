// test_transport: a deterministic transport for router and middleware tests.
//
// deliver() hands a message to the matching subscriptions on the calling thread, with a settler
// that records how (and when) it was settled; publish() records what was published and can be
// told to fail. Nothing happens on threads of its own, so a test decides every delivery.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/transport.h"

namespace ferry::testing {

// How one delivery was settled.
struct settlement_record {
  std::string id;
  std::string subject;
  std::uint64_t delivery_count = 1;
  settlement state = settlement::pending;
  std::chrono::milliseconds delay{0};  // nack
  std::string reason;                  // term
  std::chrono::steady_clock::time_point at{};
};

class test_transport : public transport {
 public:
  explicit test_transport(capabilities caps = default_caps());
  ~test_transport() override;

  static capabilities default_caps() {
    capabilities c;
    c.redelivery = c.delivery_count = c.delayed_delivery = c.wildcards = c.consumer_groups = true;
    return c;
  }

  status publish(message m) override;
  using transport::publish;
  status flush(std::chrono::milliseconds) override { return status::ok(); }
  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options options,
                                                  delivery_callback callback) override;
  [[nodiscard]] capabilities caps() const override { return caps_; }
  [[nodiscard]] std::string_view name() const override { return "test"; }
  void close() override;

  // Delivers `m` (an id is made up when empty) to each subscription whose subject matches, on
  // this thread. Returns how many subscriptions got it.
  std::size_t deliver(message m);
  // Delivers again, with delivery_count + 1, every message nacked so far and not yet redelivered.
  std::size_t redeliver_nacked();

  // Makes the next `n` publishes fail with `s` (n = -1: every publish until cleared with 0).
  void fail_publishes(int n, status s = unavailable("test: publish failed"));

  // Waits until `n` deliveries are settled; false on timeout.
  bool wait_settled(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  [[nodiscard]] std::vector<settlement_record> settled() const;  // in settlement order
  [[nodiscard]] std::vector<message> published() const;
  [[nodiscard]] std::size_t subscriptions() const;

 private:
  class recording_settler;
  class test_subscription;
  struct sub_entry {
    std::string subject;
    delivery_callback callback;
    bool active = true;
    int running = 0;
  };

  void record(settlement_record r, const message* redeliver);

  const capabilities caps_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable changed_;
  std::vector<std::shared_ptr<sub_entry>> subs_;
  std::vector<settlement_record> settled_;
  std::vector<message> published_;
  std::deque<message> nacked_;  // to redeliver
  int failing_ = 0;
  status fail_with_;
};

}  // namespace ferry::testing
