// transport_throughput: messages per second through the SDK transports, printed as a table.
//
//   build/bench/transport_throughput [--quick] [--runs N] [--only
//   inproc|inproc-1|inproc-batch|inproc-router|nats|nats-raw|nats-raw-pub|nats-raw-hpub|nats-raw-read|nats-ferry|
//   kafka|kafka-pub|kafka-consume|redis|redis-pub|redis-batch|redis-consume|rabbitmq|rabbitmq-pub|rabbitmq-batch|
//   rabbitmq-consume]
//
// Each row is run N times (default 5; --quick: once, with fewer messages) and reported as the
// median msgs/s with the lowest and highest run (the machines we measure on are noisy).
// - inproc: one publisher thread to one subscriber (publish one at a time, and in batches of 256),
//   and the same through a router (one handler, concurrency 1).
// - nats: ferry's NATS transport against raw libnats, on the same embedded ferryd, same payload:
//   one publishing connection, one subscribing connection, every message received. The transport
//   sends the message id as a header (HPUB) and hands it to the callback, so raw libnats is
//   measured without headers, with the same Nats-Msg-Id header, and with the header read by the
//   subscriber (libnats parses headers only when asked); the ratios are transport / raw. Each NATS
//   row also gives the median CPU time per message of the publishing thread and of the thread that
//   runs the subscriber's callback, which shows on which side a difference lies.
// - kafka: ferry's Kafka transport against raw librdkafka on one mock cluster (3 brokers, this
//   process), publishing (asynchronously and in batches of 256, acks=all, idempotent) and
//   consuming with acknowledgement in a consumer group (bench/kafka_rows.cc).
// - redis: ferry's Redis Streams transport against raw hiredis sending the same commands to one
//   redis-server (bench/redis_rows.cc).
// - rabbitmq: ferry's RabbitMQ transport against raw rabbitmq-c on one rabbitmq-server node and the
//   same kind of queue (bench/rabbitmq_rows.cc).
#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "broker/server.h"
#include "ferry/inproc.h"
#include "ferry/nats.h"
#include "ferry/router.h"
#include "throughput.h"

namespace {

using namespace throughput;

double inproc_direct(std::uint64_t n, std::size_t batch) {
  auto t = ferry::inproc::make_transport({.workers = 1, .queue_capacity = 8192});
  counter got;
  auto sub = t->subscribe("bench.inproc", {.max_in_flight = 8192}, [&](ferry::message m) {
    m.ack();
    got.fetch_add(1, std::memory_order_relaxed);
  });
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  if (batch <= 1) {
    for (std::uint64_t i = 0; i < n; ++i) (void)t->publish(ferry::message("bench.inproc", payload));
  } else {
    std::vector<ferry::message> v;
    for (std::uint64_t i = 0; i < n; i += batch) {
      v.clear();
      v.reserve(batch);
      for (std::size_t j = 0; j < batch; ++j) v.emplace_back("bench.inproc", payload);
      (void)t->publish(std::move(v));
      v = std::vector<ferry::message>();
    }
  }
  wait_for(got, n);
  return rate(got.load(), n, seconds_since(start));
}

double inproc_router(std::uint64_t n) {
  auto t = ferry::inproc::make_transport({.workers = 1, .queue_capacity = 8192});
  counter got;
  ferry::router r(*t);
  (void)r.add_handler({.name = "bench", .subject = "bench.router", .subscription = {.max_in_flight = 4096}},
                      [&](ferry::message&) -> ferry::outcome {
                        got.fetch_add(1, std::memory_order_relaxed);
                        return ferry::outcome::ack();
                      });
  (void)r.start();
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  std::vector<ferry::message> v;
  for (std::uint64_t i = 0; i < n; i += 256) {
    v.clear();
    for (int j = 0; j < 256; ++j) v.emplace_back("bench.router", payload);
    (void)t->publish(std::move(v));
    v = std::vector<ferry::message>();
  }
  wait_for(got, n);
  const double r_rate = rate(got.load(), n, seconds_since(start));
  r.stop(5s);
  return r_rate;
}

// What the raw libnats publisher sends and its subscriber reads.
enum class raw_mode {
  pub,        // PUB, no headers
  hpub,       // HPUB with a Nats-Msg-Id header the subscriber does not look at
  hpub_read,  // the same, and the subscriber reads the id (what the transport hands its callback)
};

// Raw libnats: one publisher connection, one subscriber connection (async callback). Appends a
// run to `r`.
void raw_nats(const std::string& url, std::uint64_t n, raw_mode mode, runs& r) {
  natsConnection *pub = nullptr, *sub_conn = nullptr;
  natsConnection_ConnectTo(&pub, url.c_str());
  natsConnection_ConnectTo(&sub_conn, url.c_str());
  struct sink {
    counter got;
    bool read_id = false;
    std::uint64_t n = 0;
    std::atomic<double> cpu_ns{0};  // of nats.c's delivery thread (one per subscription), at the last message
  } c;
  c.n = n;
  c.read_id = mode == raw_mode::hpub_read;
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(
      &sub, sub_conn, "bench.raw",
      [](natsConnection*, natsSubscription*, natsMsg* m, void* p) {
        auto* c = static_cast<sink*>(p);
        const char* id = nullptr;
        const bool ok = !c->read_id || (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr);
        natsMsg_Destroy(m);
        if (ok) count_one(c->got, c->n, c->cpu_ns);  // a missing id: the run reports loss
      },
      &c);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(sub_conn);
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  const double pub_cpu = thread_cpu_ns();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (mode != raw_mode::pub) {
      natsMsg* m = nullptr;
      natsMsg_Create(&m, "bench.raw", nullptr, payload.data(), static_cast<int>(payload.size()));
      natsMsgHeader_Set(m, "Nats-Msg-Id", ferry::new_id().c_str());
      natsConnection_PublishMsg(pub, m);
      natsMsg_Destroy(m);
    } else {
      natsConnection_Publish(pub, "bench.raw", payload.data(), static_cast<int>(payload.size()));
    }
  }
  natsConnection_Flush(pub);
  r.pub_cpu.push_back((thread_cpu_ns() - pub_cpu) / static_cast<double>(n));
  wait_for(c.got, n, 60s);
  const double secs = seconds_since(start);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub_conn);
  r.sub_cpu.push_back(c.cpu_ns / static_cast<double>(n));
  r.rates.push_back(rate(c.got.load(), n, secs));
}

// The same through ferry's NATS transport; appends a run to `r`.
void ferry_nats(const std::string& url, std::uint64_t n, runs& r) {
  auto pub = ferry::nats::connect(url, {.name = "bench-pub"});
  auto sub_t = ferry::nats::connect(url, {.name = "bench-sub"});
  if (!pub.is_ok() || !sub_t.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  counter got;
  std::atomic<double> sub_cpu{0};  // of the subscription's delivery thread, at the last message
  auto sub = (*sub_t)->subscribe("bench.ferry", {.max_in_flight = 4096}, [&](ferry::message m) {
    m.ack();
    count_one(got, n, sub_cpu);
  });
  if (!sub.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  const double pub_cpu = thread_cpu_ns();
  for (std::uint64_t i = 0; i < n; ++i) (void)(*pub)->publish(ferry::message("bench.ferry", payload));
  (void)(*pub)->flush(10s);
  r.pub_cpu.push_back((thread_cpu_ns() - pub_cpu) / static_cast<double>(n));
  wait_for(got, n, 60s);
  const double secs = seconds_since(start);
  r.sub_cpu.push_back(sub_cpu.load() / static_cast<double>(n));
  r.rates.push_back(rate(got.load(), n, secs));
}

// ferry's NATS transport against raw libnats on one embedded ferryd, interleaved.
void nats_rows(int rounds, bool quick, const wanted_fn& wanted) {
  if (!wanted("nats-raw-pub") && !wanted("nats-raw-hpub") && !wanted("nats-raw-read") && !wanted("nats-ferry")) return;

  ferry::broker::server_options o;
  o.port = 0;
  auto srv = ferry::broker::server::start(o);
  if (!srv.is_ok()) {
    std::printf("ferryd did not start: %s\n", srv.status().to_string().c_str());
    return;
  }
  const std::string url = (*srv)->client_url();
  const std::uint64_t nats_n = quick ? 50'000 : 300'000;
  // Interleaved, so that the machine's noise falls on all of them alike.
  // --only nats-raw / nats-ferry: one side only (for profiling).
  // --only nats-raw-pub / nats-raw-hpub / nats-raw-read: one raw row.
  const bool raw_pub = wanted("nats-raw-pub"), raw_hpub = wanted("nats-raw-hpub"), raw_read = wanted("nats-raw-read");
  const bool ferry_row = wanted("nats-ferry");
  runs raw, raw_h, raw_hr, mine;
  for (int i = 0; i < rounds; ++i) {
    if (raw_pub) raw_nats(url, nats_n, raw_mode::pub, raw);
    if (raw_hpub) raw_nats(url, nats_n, raw_mode::hpub, raw_h);
    if (raw_read) raw_nats(url, nats_n, raw_mode::hpub_read, raw_hr);
    if (ferry_row) ferry_nats(url, nats_n, mine);
  }
  if (raw_pub) raw.print("raw libnats, PUB (no headers)");
  if (raw_hpub) raw_h.print("raw libnats, HPUB with Nats-Msg-Id");
  if (raw_read) raw_hr.print("raw libnats, HPUB, subscriber reads the id");
  if (ferry_row) mine.print("ferry nats transport");
  if (!raw_pub || !raw_hpub || !raw_read || !ferry_row) return;
  std::printf("ferry nats transport / raw libnats (medians): %.2f vs PUB, %.2f vs HPUB, %.2f vs HPUB reading the id\n",
              mine.median() / raw.median(), mine.median() / raw_h.median(), mine.median() / raw_hr.median());
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      quick = true;
      rounds = 1;
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--runs" && i + 1 < argc && std::atoi(argv[i + 1]) > 0) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: transport_throughput [--quick] [--runs N] "
                   "[--only inproc|inproc-1|inproc-batch|inproc-router|nats|nats-raw|nats-raw-pub|nats-raw-hpub|\n"
                   "nats-raw-read|nats-ferry|kafka|kafka-pub|kafka-consume|redis|redis-pub|redis-batch|redis-consume|\n"
                   "rabbitmq|rabbitmq-pub|rabbitmq-batch|rabbitmq-consume]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::printf("payload %zu bytes, %u cores, %d runs per row\n", payload_size, std::thread::hardware_concurrency(),
              rounds);
  // --only inproc runs the three inproc rows, --only inproc-1 / inproc-batch / inproc-router one.
  auto wanted = [&](std::string_view row) { return only.empty() || row.starts_with(only); };
  auto repeat = [&](const char* name, const std::function<double()>& run) {
    runs r;
    for (int i = 0; i < rounds; ++i) r.rates.push_back(run());
    r.print(name);
  };
  const std::uint64_t inproc_n = quick ? 500'000 : 4'000'000;
  if (wanted("inproc-1")) repeat("inproc 1 -> 1, publish()", [&] { return inproc_direct(inproc_n, 1); });
  if (wanted("inproc-batch"))
    repeat("inproc 1 -> 1, publish(batch of 256)", [&] { return inproc_direct(inproc_n, 256); });
  if (wanted("inproc-router"))
    repeat("inproc through a router (1 handler)", [&] { return inproc_router(quick ? 200'000 : 1'000'000); });
  nats_rows(rounds, quick, wanted);
  kafka_rows(rounds, quick, wanted);
  redis_rows(rounds, quick, wanted);
  rabbitmq_rows(rounds, quick, wanted);
  return 0;
}
