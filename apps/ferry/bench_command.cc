// ferry bench: a load generator of our own. Throughput with P publishers and S subscribers
// (plain or a queue group), or request/reply latency percentiles with P requesters; each
// client on its own connection, so --pub 500 --sub 500 is also a many-connection run.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "commands.h"

namespace ferry::cli {

namespace {

using clock_type = std::chrono::steady_clock;

struct counter {
  std::atomic<long> n{0};
  std::atomic<long long> last_ns{0};
};

void on_bench_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* c = static_cast<counter*>(closure);
  c->n.fetch_add(1, std::memory_order_relaxed);
  c->last_ns.store(clock_type::now().time_since_epoch().count(), std::memory_order_relaxed);
  natsMsg_Destroy(m);
}

void on_bench_request(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::string human_rate(double per_s) {
  char buf[64];
  if (per_s >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", per_s / 1e6);
  } else if (per_s >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", per_s / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", per_s);
  }
  return buf;
}

// Appends `row` (after `header` when the file is new); run_bench checked that the file opens.
int write_csv(const std::string& path, const std::string& header, const std::string& row) {
  if (path.empty()) return 0;
  const bool exists = std::ifstream(path).good();
  std::ofstream f(path, std::ios::app);
  if (!exists) f << header << "\n";
  f << row << "\n";
  f.flush();
  return f.good() ? 0 : fail("could not write --csv file " + path + ": " + std::strerror(errno));
}

int throughput(const connect_options& c, const bench_args& a) {
  std::vector<std::unique_ptr<session>> sub_sessions;
  std::vector<natsSubscription*> subs;
  counter received;
  for (int i = 0; i < a.subs; ++i) {
    auto s = session::open(c);
    if (!s.is_ok()) return fail(s.status().message());
    natsSubscription* sub = nullptr;
    natsStatus st = a.queue ? natsConnection_QueueSubscribe(&sub, (*s)->conn(), a.subject.c_str(), "ferry-bench",
                                                            on_bench_msg, &received)
                            : natsConnection_Subscribe(&sub, (*s)->conn(), a.subject.c_str(), on_bench_msg, &received);
    if (st != NATS_OK) return fail(nats_error("subscribe", st).message());
    natsSubscription_SetPendingLimits(sub, -1, -1);
    natsConnection_Flush((*s)->conn());
    subs.push_back(sub);
    sub_sessions.push_back(std::move(*s));
  }
  std::vector<std::unique_ptr<session>> pub_sessions;
  for (int i = 0; i < a.pubs; ++i) {
    auto s = session::open(c);
    if (!s.is_ok()) return fail(s.status().message());
    pub_sessions.push_back(std::move(*s));
  }
  const long per_pub = a.msgs / a.pubs;
  const long total_pub = per_pub * a.pubs;
  const long expected = a.subs == 0 ? 0 : (a.queue ? total_pub : total_pub * a.subs);
  std::string payload(static_cast<std::size_t>(a.size), 'x');
  std::atomic<long> published{0};
  std::atomic<bool> failed{false};
  std::fprintf(stderr, "bench: %d publisher(s), %d subscriber(s)%s, %ld messages of %d bytes on \"%s\"\n", a.pubs,
               a.subs, a.queue ? " in a queue group" : "", total_pub, a.size, a.subject.c_str());
  const auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < a.pubs; ++i) {
    threads.emplace_back([&, i] {
      natsConnection* nc = pub_sessions[static_cast<std::size_t>(i)]->conn();
      for (long k = 0; k < per_pub; ++k) {
        if (natsConnection_Publish(nc, a.subject.c_str(), payload.data(), a.size) != NATS_OK) {
          failed = true;
          return;
        }
        published.fetch_add(1, std::memory_order_relaxed);
      }
      if (natsConnection_FlushTimeout(nc, 60000) != NATS_OK) failed = true;
    });
  }
  // Progress once a second while publishing and draining.
  std::atomic<bool> pubs_done{false};
  std::thread joiner([&] {
    for (auto& t : threads) t.join();
    pubs_done = true;
  });
  double pub_secs = 0;
  auto last_progress = clock_type::now();
  long last_seen = -1;
  auto stalled_since = clock_type::now();
  for (;;) {
    if (pubs_done && pub_secs == 0) pub_secs = seconds_since(t0);
    const long got = received.n.load();
    if (pubs_done && got >= expected) break;
    if (got != last_seen) {
      last_seen = got;
      stalled_since = clock_type::now();
    } else if (pubs_done && seconds_since(stalled_since) > 10) {
      break;  // nothing more arrives: report the loss
    }
    if (seconds_since(last_progress) >= 1.0) {
      last_progress = clock_type::now();
      std::fprintf(stderr, "  %.0fs: published %ld/%ld, received %ld/%ld\n", seconds_since(t0), published.load(),
                   total_pub, got, expected);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  joiner.join();
  if (failed) return fail("publishing failed (connection lost?)");
  const long got = received.n.load();
  const double sub_secs =
      got > 0
          ? std::chrono::duration<double>(clock_type::time_point(clock_type::duration(received.last_ns.load())) - t0)
                .count()
          : 0;
  const double pub_rate = static_cast<double>(total_pub) / pub_secs;
  std::printf("Pub: %s msgs/s (%.1f MB/s) over %.3fs\n", human_rate(pub_rate).c_str(), pub_rate * a.size / 1e6,
              pub_secs);
  double sub_rate = 0;
  if (a.subs > 0) {
    sub_rate = sub_secs > 0 ? static_cast<double>(got) / sub_secs : 0;
    std::printf("Sub: %s msgs/s (%.1f MB/s), received %ld of %ld%s\n", human_rate(sub_rate).c_str(),
                sub_rate * a.size / 1e6, got, expected, got < expected ? " (LOST MESSAGES)" : "");
  }
  std::printf(
      "bench: mode=throughput pubs=%d subs=%d queue=%d msgs=%ld size=%d pub_msgs_per_s=%.0f sub_msgs_per_s=%.0f "
      "lost=%ld\n",
      a.pubs, a.subs, a.queue ? 1 : 0, total_pub, a.size, pub_rate, sub_rate, expected - got);
  const int csv = write_csv(a.csv, "mode,pubs,subs,queue,msgs,size,pub_msgs_per_s,sub_msgs_per_s,lost",
                            "throughput," + std::to_string(a.pubs) + "," + std::to_string(a.subs) + "," +
                                std::to_string(a.queue) + "," + std::to_string(total_pub) + "," +
                                std::to_string(a.size) + "," + std::to_string(static_cast<long>(pub_rate)) + "," +
                                std::to_string(static_cast<long>(sub_rate)) + "," + std::to_string(expected - got));
  for (auto* s : subs) natsSubscription_Destroy(s);
  return got < expected ? 1 : csv;
}

int latency(const connect_options& c, const bench_args& a) {
  connect_options lc = c;
  lc.send_asap = true;  // measure the server, not the client's write batching
  std::vector<std::unique_ptr<session>> responders;
  std::vector<natsSubscription*> subs;
  const int nresp = std::max(1, a.subs);
  for (int i = 0; i < nresp; ++i) {
    auto s = session::open(lc);
    if (!s.is_ok()) return fail(s.status().message());
    natsSubscription* sub = nullptr;
    natsStatus st = natsConnection_QueueSubscribe(&sub, (*s)->conn(), a.subject.c_str(), "ferry-bench-responders",
                                                  on_bench_request, nullptr);
    if (st != NATS_OK) return fail(nats_error("subscribe", st).message());
    natsConnection_Flush((*s)->conn());
    subs.push_back(sub);
    responders.push_back(std::move(*s));
  }
  std::vector<std::unique_ptr<session>> requesters;
  for (int i = 0; i < a.pubs; ++i) {
    auto s = session::open(lc);
    if (!s.is_ok()) return fail(s.status().message());
    requesters.push_back(std::move(*s));
  }
  const long per = a.msgs / a.pubs;
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(a.pubs));
  std::string payload(static_cast<std::size_t>(a.size), 'x');
  std::atomic<long> done{0};
  std::atomic<long> errors{0};
  std::fprintf(stderr, "bench: request/reply, %d requester(s), %d responder(s), %ld requests of %d bytes on \"%s\"\n",
               a.pubs, nresp, per * a.pubs, a.size, a.subject.c_str());
  const auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < a.pubs; ++i) {
    threads.emplace_back([&, i] {
      auto& mine = lat[static_cast<std::size_t>(i)];
      mine.reserve(static_cast<std::size_t>(per));
      natsConnection* nc = requesters[static_cast<std::size_t>(i)]->conn();
      for (long k = 0; k < per; ++k) {
        natsMsg* r = nullptr;
        const auto s0 = clock_type::now();
        if (natsConnection_Request(&r, nc, a.subject.c_str(), payload.data(), a.size, 5000) != NATS_OK) {
          errors.fetch_add(1);
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - s0).count());
        natsMsg_Destroy(r);
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    auto last = clock_type::now();
    while (!finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (seconds_since(last) >= 1.0) {
        last = clock_type::now();
        std::fprintf(stderr, "  %.0fs: %ld/%ld requests\n", seconds_since(t0), done.load(), per * a.pubs);
      }
    }
  });
  for (auto& t : threads) t.join();
  finished = true;
  progress.join();
  const double secs = seconds_since(t0);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    if (all.empty()) return 0.0;
    std::size_t idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(all.size()))) - 1;
    return all[std::min(idx, all.size() - 1)];
  };
  const double rate = static_cast<double>(all.size()) / secs;
  std::printf("Requests: %s/s, %zu ok, %ld failed\n", human_rate(rate).c_str(), all.size(), errors.load());
  std::printf("Latency: p50 %.1fus  p90 %.1fus  p99 %.1fus  p99.9 %.1fus  max %.1fus\n", pct(50), pct(90), pct(99),
              pct(99.9), all.empty() ? 0.0 : all.back());
  std::printf(
      "bench: mode=reqrep requesters=%d responders=%d msgs=%zu size=%d req_per_s=%.0f p50_us=%.1f p90_us=%.1f "
      "p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%ld\n",
      a.pubs, nresp, all.size(), a.size, rate, pct(50), pct(90), pct(99), pct(99.9), all.empty() ? 0.0 : all.back(),
      errors.load());
  const int csv = write_csv(
      a.csv, "mode,requesters,responders,msgs,size,req_per_s,p50_us,p90_us,p99_us,p999_us,max_us,errors",
      "reqrep," + std::to_string(a.pubs) + "," + std::to_string(nresp) + "," + std::to_string(all.size()) + "," +
          std::to_string(a.size) + "," + std::to_string(static_cast<long>(rate)) + "," + std::to_string(pct(50)) + "," +
          std::to_string(pct(90)) + "," + std::to_string(pct(99)) + "," + std::to_string(pct(99.9)) + "," +
          std::to_string(all.empty() ? 0.0 : all.back()) + "," + std::to_string(errors.load()));
  for (auto* s : subs) natsSubscription_Destroy(s);
  return errors.load() == 0 ? csv : 1;
}

}  // namespace

int run_bench(const connect_options& c, const bench_args& a) {
  if (a.pubs <= 0) return fail("--pub must be at least 1");
  if (a.subs < 0) return fail("--sub must not be negative");
  if (a.msgs < a.pubs) return fail("--msgs must be at least the number of publishers");
  if (a.size < 0 || a.size > 64 * 1024 * 1024) return fail("--size must be between 0 and 64 MiB");
  if (!a.csv.empty()) {
    // Before measuring, so a run is never lost to a file that cannot be written.
    std::ofstream f(a.csv, std::ios::app);
    if (!f) return fail("could not open --csv file " + a.csv + ": " + std::strerror(errno));
  }
  {
    // A payload the server would refuse ends a publisher's connection; say so before starting.
    auto probe = session::open(c);
    if (!probe.is_ok()) return fail(probe.status().message());
    if (a.size > (*probe)->max_payload()) {
      return fail("--size " + std::to_string(a.size) + " exceeds the server's max_payload of " +
                  std::to_string((*probe)->max_payload()) + " bytes");
    }
  }
  // Many connections share libnats' global delivery threads instead of one thread each.
  nats_SetMessageDeliveryPoolSize(4);
  return a.request ? latency(c, a) : throughput(c, a);
}

}  // namespace ferry::cli
