// handler_runtime: one router handler at run time: its composed chain, subscription, queue and
// worker threads. The router owns one per handler and drives its life:
//
//   start() -> [deliveries: on_delivery() queues, workers dispatch()] -> begin_stop()
//           -> wait_idle(deadline) -> abandon_running() if still busy -> join()
//
// Thread safety: start/begin_stop/abandon_running/join are called by the router (one thread at a
// time); stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "ferry/handler.h"
#include "ferry/router.h"
#include "ferry/transport.h"
#include "sdk/dispatch.h"
#include "sdk/work_queue.h"

namespace ferry::detail {

class handler_runtime {
 public:
  // Composes `h` with `router_middleware` (outermost) and options.middleware.
  // REQUIRES: options validated (non-empty subject and name, concurrency > 0).
  handler_runtime(handler_options options, handler h, const std::vector<handler_middleware>& router_middleware,
                  transport& in, publisher& out);
  ~handler_runtime();  // joins the workers (REQUIRES: begin_stop() called if started)
  handler_runtime(const handler_runtime&) = delete;
  handler_runtime& operator=(const handler_runtime&) = delete;

  // Subscribes. Deliveries queue up until start_workers().
  status subscribe();
  void start_workers();
  // Stops intake: wakes middleware waits, closes the queue, stops the subscription, nacks what
  // was queued. Idempotent.
  void begin_stop();
  // Waits until no handler call is running or `deadline`; true when none is.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  // Nacks the messages of the handler calls still running; their outcomes are discarded later.
  void abandon_running();
  // Waits for the workers to exit.
  void join();

  [[nodiscard]] const std::string& name() const { return options_.name; }
  [[nodiscard]] handler_stats stats() const;

 private:
  // What a worker is running, for abandon_running().
  struct slot {
    message* current = nullptr;
    std::atomic<bool> abandoned{false};
  };

  void on_delivery(message m);
  void worker_loop(slot& s);

  handler_options options_;
  handler_info info_;
  handler chain_;
  std::stop_source stop_source_;
  transport& in_;
  handler_counters counters_;
  dispatch_env env_;
  work_queue queue_;
  std::unique_ptr<subscription> sub_;
  std::unique_ptr<slot[]> slots_;
  std::mutex slots_mu_;  // guards slot::current of every slot
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace ferry::detail
