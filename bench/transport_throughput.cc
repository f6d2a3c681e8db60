// transport_throughput: messages per second through the SDK transports, printed as a table.
//
//   build/bin/transport_throughput [--quick]
//
// - inproc: one publisher thread to one subscriber (publish one at a time, and in batches of 256),
//   and the same through a router (one handler, concurrency 1).
// - nats: ferry's NATS transport against raw libnats, on the same embedded ferryd, same payload:
//   one publishing connection, one subscribing connection, every message received. The transport
//   sends the message id as a header (HPUB), so raw libnats is measured both without headers and
//   with the same Nats-Msg-Id header; the ratios are transport / raw.
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "broker/server.h"
#include "ferry/inproc.h"
#include "ferry/nats.h"
#include "ferry/router.h"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t payload_size = 16;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

void wait_for(const std::atomic<std::uint64_t>& n, std::uint64_t target, std::chrono::seconds limit = 120s) {
  const auto end = clock_type::now() + limit;
  while (n.load(std::memory_order_relaxed) < target && clock_type::now() < end) std::this_thread::sleep_for(100us);
}

void row(const char* name, std::uint64_t n, double secs, double ratio = 0) {
  std::printf("%-44s %10.0f msgs/s  (%llu in %.2f s)", name, n / secs, static_cast<unsigned long long>(n), secs);
  if (ratio > 0) std::printf("  ratio %.2f", ratio);
  std::printf("\n");
  std::fflush(stdout);
}

double inproc_direct(std::uint64_t n, std::size_t batch) {
  auto t = ferry::inproc::make_transport({.workers = 1, .queue_capacity = 8192});
  std::atomic<std::uint64_t> got{0};
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
  const double secs = seconds_since(start);
  row(batch <= 1 ? "inproc 1 -> 1, publish()" : "inproc 1 -> 1, publish(batch of 256)", got.load(), secs);
  return got.load() / secs;
}

void inproc_router(std::uint64_t n) {
  auto t = ferry::inproc::make_transport({.workers = 1, .queue_capacity = 8192});
  std::atomic<std::uint64_t> got{0};
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
  row("inproc through a router (1 handler)", got.load(), seconds_since(start));
  r.stop(5s);
}

// Raw libnats: one publisher connection, one subscriber connection (async callback).
double raw_nats(const std::string& url, std::uint64_t n, bool with_header) {
  natsConnection *pub = nullptr, *sub_conn = nullptr;
  natsConnection_ConnectTo(&pub, url.c_str());
  natsConnection_ConnectTo(&sub_conn, url.c_str());
  std::atomic<std::uint64_t> got{0};
  natsSubscription* sub = nullptr;
  natsConnection_Subscribe(
      &sub, sub_conn, "bench.raw",
      [](natsConnection*, natsSubscription*, natsMsg* m, void* c) {
        static_cast<std::atomic<std::uint64_t>*>(c)->fetch_add(1, std::memory_order_relaxed);
        natsMsg_Destroy(m);
      },
      &got);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(sub_conn);
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (with_header) {
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
  wait_for(got, n, 60s);
  const double secs = seconds_since(start);
  row(with_header ? "raw libnats, HPUB with Nats-Msg-Id" : "raw libnats, PUB (no headers)", got.load(), secs);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(sub_conn);
  return got.load() / secs;
}

double ferry_nats(const std::string& url, std::uint64_t n) {
  auto pub = ferry::nats::connect(url, {.name = "bench-pub"});
  auto sub_t = ferry::nats::connect(url, {.name = "bench-sub"});
  if (!pub.is_ok() || !sub_t.is_ok()) return 0;
  std::atomic<std::uint64_t> got{0};
  auto sub = (*sub_t)->subscribe("bench.ferry", {.max_in_flight = 4096}, [&](ferry::message m) {
    m.ack();
    got.fetch_add(1, std::memory_order_relaxed);
  });
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < n; ++i) (void)(*pub)->publish(ferry::message("bench.ferry", payload));
  (void)(*pub)->flush(10s);
  wait_for(got, n, 60s);
  const double secs = seconds_since(start);
  row("ferry nats transport", got.load(), secs);
  return got.load() / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  spdlog::set_level(spdlog::level::warn);
  std::printf("payload %zu bytes, %u cores\n", payload_size, std::thread::hardware_concurrency());
  const std::uint64_t inproc_n = quick ? 500'000 : 4'000'000;
  inproc_direct(inproc_n, 1);
  inproc_direct(inproc_n, 256);
  inproc_router(quick ? 200'000 : 1'000'000);

  ferry::broker::server_options o;
  o.port = 0;
  auto srv = ferry::broker::server::start(o);
  if (!srv.is_ok()) {
    std::printf("ferryd did not start: %s\n", srv.status().to_string().c_str());
    return 1;
  }
  const std::string url = (*srv)->client_url();
  const std::uint64_t nats_n = quick ? 50'000 : 300'000;
  const double raw = raw_nats(url, nats_n, false);
  const double raw_h = raw_nats(url, nats_n, true);
  const double mine = ferry_nats(url, nats_n);
  std::printf("ferry nats transport / raw libnats: %.2f (vs PUB), %.2f (vs HPUB with the same header)\n", mine / raw,
              mine / raw_h);
  return 0;
}
