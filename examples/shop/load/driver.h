// driver: shop-load's run: posts the planned orders over HTTP at a steady rate, injects poison
// messages and duplicate deliveries through the broker, follows every order until it is final,
// then gathers what the services report and checks it.
//
// Threads: one thread posts (and injects), the caller's thread polls GET /orders/{id}; they share
// the order table under a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "events.h"
#include "ferry/result.h"
#include "ferry/status.h"
#include "scenario.h"

namespace shop::load {

// What the driver needs from the broker (implemented over the SDK's transport in bus_probe.cc).
class broker_probe {
 public:
  struct dead_letter {
    std::string subject;  // where it was dead-lettered (dlq.<service>)
    std::string origin;   // the subject it came from
    std::string reason;   // its Ferry-Dead-Letter-Reason header
  };
  virtual ~broker_probe() = default;
  // Publishes a malformed order.created (kind 0, 1, 2...: different ways of being malformed).
  virtual ferry::status publish_poison(std::size_t kind) = 0;
  // Re-publishes the order.created of `order` as a new message (a new Nats-Msg-Id, so that the
  // broker's dedup does not catch it and the consumer's must).
  virtual ferry::status publish_duplicate(const order_created& order) = 0;
  // Every message in the dead-letter stream.
  virtual ferry::result<std::vector<dead_letter>> dead_letters() = 0;
};

struct driver_options {
  std::size_t orders = 300;
  double rate = 30;  // orders posted per second
  std::size_t duplicate_every = 20;
  std::size_t poison = 3;
  std::string order_url, inventory_url, notification_url;
  std::chrono::seconds timeout{120};  // for every order to become final, after the last POST
};

// One order as the driver follows it.
struct tracked_order {
  planned_order plan;
  std::string id;  // empty until POST /orders succeeded
  std::string status = "pending", reason;
  std::chrono::steady_clock::time_point posted{}, finished{};
  bool duplicate_sent = false;
  std::string post_error;  // why POST /orders failed
};

// What run() found, for the summary.
struct run_report {
  std::vector<tracked_order> orders;
  std::size_t poison_planned = 0, poison_sent = 0;
  std::size_t duplicates_planned = 0, duplicates_sent = 0;  // planned: of the orders posted
  std::vector<broker_probe::dead_letter> dead_letters;
  nlohmann::json order, inventory, notification;  // their GET /stats
  std::size_t post_retries = 0;                   // POSTs sent again (same Idempotency-Key) after no answer or a 5xx
  std::chrono::milliseconds elapsed{0};
};

// Runs the load against the services. Returns the report (also when orders were lost: the
// summary says so); an error only when the run could not take place (a service unreachable).
ferry::result<run_report> run_load(const driver_options& o, broker_probe& bus);

// Prints the summary and every failed check; returns true when every check passed.
bool print_summary(const run_report& r, std::FILE* out);

}  // namespace shop::load
