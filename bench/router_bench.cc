// Router overhead per message: a trivial handler alone and inside the full middleware chain
// (recoverer, correlation, tracing, metrics, dedup on the memory store, timeout, circuit breaker,
// retry, dead letter), run through the router's own dispatch-and-settle path without a transport;
// then the same through router dispatch (delivery callback, queue, worker thread) from a
// transport that delivers on the caller's thread.
//
//   build/bench/router_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ferry/dedup.h"
#include "ferry/metrics.h"
#include "ferry/middleware.h"
#include "ferry/router.h"
#include "ferry/tracing.h"
#include "sdk/dispatch.h"

namespace {

using namespace std::chrono_literals;

// Settles into nothing: the cost of a transport's settlement is not the router's.
class null_settler : public ferry::settler {
 public:
  void ack() override {}
  void nack(std::chrono::milliseconds) override {}
  void term(std::string_view) override {}
};

class null_publisher : public ferry::publisher {
 public:
  ferry::status publish(ferry::message) override { return ferry::status::ok(); }
  using ferry::publisher::publish;
  ferry::status flush(std::chrono::milliseconds) override { return ferry::status::ok(); }
};

// Receives every span (so each is built in full) and only counts them.
class counting_exporter : public ferry::span_exporter {
 public:
  void export_span(ferry::span) override { spans.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<std::uint64_t> spans{0};
};

// Everything the full chain needs, alive for the benchmark.
struct full_chain {
  full_chain() : dedup(ferry::memory_dedup_options{.max_keys = 100'000}) {}

  // The recommended order (middleware.h), outermost first, with names for the per-middleware runs.
  std::vector<std::pair<std::string, ferry::handler_middleware>> named() {
    ferry::middleware::retry_policy p;
    p.max_attempts = 3;
    return {{"correlation_id", ferry::middleware::correlation_id()},
            {"tracing", ferry::middleware::tracing(tracer)},
            {"metrics", ferry::middleware::metrics(metrics)},
            {"dead_letter", ferry::middleware::dead_letter(out, "dlq")},
            {"dedup(memory)", ferry::middleware::dedup(dedup)},
            {"retry", ferry::middleware::retry(p)},
            {"circuit_breaker", ferry::middleware::circuit_breaker()},
            {"timeout", ferry::middleware::timeout(1s)},
            {"recoverer", ferry::middleware::recoverer()}};
  }
  std::vector<ferry::handler_middleware> middleware() {
    std::vector<ferry::handler_middleware> all;
    for (auto& [name, m] : named()) all.push_back(std::move(m));
    return all;
  }

  null_publisher out;
  std::shared_ptr<counting_exporter> spans = std::make_shared<counting_exporter>();
  ferry::tracer tracer{spans};
  ferry::metrics_registry metrics;
  ferry::memory_dedup_store dedup;
};

ferry::outcome trivial(ferry::message&) { return ferry::outcome::ack(); }

// A delivered message as a transport would hand it over: unique id, a correlation id, and a
// settler of its own (allocated, as the NATS transports do; inproc pools them).
ferry::message delivered(std::uint64_t n, std::unique_ptr<ferry::settler> s) {
  ferry::message m("orders.created", R"({"id":42})");
  m.id = std::to_string(n);
  m.headers.add("Correlation-Id", "c-1");
  m.delivery.transport = "bench";
  m.attach(std::move(s));
  return m;
}

// chain: -1 none, -2 all, else the index of the one middleware to run.
void run_dispatch(benchmark::State& state, int chain) {
  full_chain deps;
  ferry::handler_info info;
  info.name = "orders";
  info.subject = "orders.created";
  std::vector<ferry::handler_middleware> mws;
  if (chain == -2) mws = deps.middleware();
  if (chain >= 0) {
    auto named = deps.named();
    state.SetLabel(named.at(static_cast<std::size_t>(chain)).first);
    mws.push_back(named.at(static_cast<std::size_t>(chain)).second);
  }
  ferry::handler h = ferry::compose(trivial, mws, info);
  ferry::detail::handler_counters counters;
  std::string publish_subject;
  ferry::detail::dispatch_env env;
  env.name = &info.name;
  env.out = &deps.out;
  env.publish_subject = &publish_subject;
  env.delayed_delivery = true;
  env.counters = &counters;
  std::uint64_t n = 0;
  for (auto _ : state) {
    ferry::message m = delivered(n++, std::make_unique<null_settler>());
    ferry::detail::dispatch(m, h, env);
  }
  if (counters.acked.load() != n) state.SkipWithError("not every message was acked");
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
}

void BM_DispatchTrivialHandler(benchmark::State& state) { run_dispatch(state, -1); }
void BM_DispatchFullChain(benchmark::State& state) { run_dispatch(state, -2); }
void BM_DispatchOneMiddleware(benchmark::State& state) { run_dispatch(state, static_cast<int>(state.range(0))); }

// Only builds the delivered message (the part that is the transport's, not the router's).
void BM_DeliveredMessageOnly(benchmark::State& state) {
  std::uint64_t n = 0;
  for (auto _ : state) {
    ferry::message m = delivered(n++, std::make_unique<null_settler>());
    benchmark::DoNotOptimize(m);
  }
}

// A transport that calls the subscriber on the publisher's thread, with a settler that counts.
class direct_transport : public ferry::transport {
 public:
  class counting_settler : public ferry::settler {
   public:
    explicit counting_settler(direct_transport& t) : t_(t) {}
    void ack() override { t_.settled(); }
    void nack(std::chrono::milliseconds) override { t_.settled(); }
    void term(std::string_view) override { t_.settled(); }

   private:
    direct_transport& t_;
  };
  class sub : public ferry::subscription {
   public:
    explicit sub(direct_transport& t) : t_(t) {}
    void stop() override { t_.cb_ = nullptr; }
    const std::string& subject() const override { return subject_; }

   private:
    direct_transport& t_;
    std::string subject_ = "orders.created";
  };

  ferry::status publish(ferry::message) override { return ferry::status::ok(); }
  using ferry::transport::publish;
  ferry::status flush(std::chrono::milliseconds) override { return ferry::status::ok(); }
  ferry::result<std::unique_ptr<ferry::subscription>> subscribe(std::string, ferry::subscription_options,
                                                                ferry::delivery_callback cb) override {
    cb_ = std::move(cb);
    return std::unique_ptr<ferry::subscription>(std::make_unique<sub>(*this));
  }
  ferry::capabilities caps() const override { return {.delayed_delivery = true}; }
  std::string_view name() const override { return "direct"; }
  void close() override {}

  void deliver(std::uint64_t n) { cb_(delivered(n, std::make_unique<counting_settler>(*this))); }
  void settled() {
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == target_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mu_);
      cv_.notify_all();
    }
  }
  void wait_for(std::uint64_t n) {
    target_.store(n, std::memory_order_release);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) >= n; });
  }

 private:
  ferry::delivery_callback cb_;
  std::atomic<std::uint64_t> done_{0}, target_{~std::uint64_t{0}};
  std::mutex mu_;
  std::condition_variable cv_;
};

void run_router(benchmark::State& state, bool with_chain) {
  full_chain deps;
  direct_transport t;
  {
    ferry::router r(t, &deps.out);
    if (with_chain)
      for (auto& m : deps.middleware()) r.use(m);
    ferry::handler_options o;
    o.name = "orders";
    o.subject = "orders.created";
    o.concurrency = static_cast<std::size_t>(state.range(0));
    o.queue_size = 1024;
    if (!r.add_handler(o, trivial).is_ok() || !r.start().is_ok()) {
      state.SkipWithError("router did not start");
      return;
    }
    std::uint64_t n = 0;
    for (auto _ : state) t.deliver(n++);
    t.wait_for(n);
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
    r.stop(1s);
  }
}

void BM_RouterTrivialHandler(benchmark::State& state) { run_router(state, false); }
void BM_RouterFullChain(benchmark::State& state) { run_router(state, true); }

BENCHMARK(BM_DeliveredMessageOnly);
BENCHMARK(BM_DispatchTrivialHandler);
BENCHMARK(BM_DispatchFullChain);
BENCHMARK(BM_DispatchOneMiddleware)->DenseRange(0, 8);
BENCHMARK(BM_RouterTrivialHandler)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_RouterFullChain)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
