// js_bench: JetStream durability figures that compare.sh does not give.
//
//   js_bench publish URL STREAM PUBLISHERS MESSAGES SIZE
//       PUBLISHERS connections each publish MESSAGES/PUBLISHERS messages of SIZE bytes, one at a
//       time, waiting for each acknowledgement (what a careful service does). With `sync always`
//       every acknowledgement waits for an fsync, so the rate shows whether concurrent
//       publishers share fsyncs (group commit). Prints messages/s and ack latency p50/p99.
//   js_bench fill URL STREAM BYTES SIZE
//       Publishes asynchronously (up to 4096 unacknowledged) until BYTES of payload are stored.
//   js_bench wait URL STREAM MESSAGES TIMEOUT_S
//       Polls STREAM.INFO until the stream answers with at least MESSAGES messages; prints the
//       seconds it took (used to time recovery after a SIGKILL, see bench/js_recovery.sh).
// STREAM is created (file storage, subject STREAM.>) by `publish` and `fill` if missing.
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const char* what, natsStatus s) {
  std::fprintf(stderr, "js_bench: %s: %s\n", what, natsStatus_GetText(s));
  std::exit(1);
}

struct js_conn {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit js_conn(const char* url) {
    if (natsStatus s = natsConnection_ConnectTo(&nc, url); s != NATS_OK) die("connect", s);
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = 4096;
    if (natsStatus s = natsConnection_JetStream(&js, nc, &o); s != NATS_OK) die("jetstream", s);
  }
  ~js_conn() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
};

void ensure_stream(jsCtx* js, const std::string& name) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  std::string subject = name + ".>";
  const char* subjects[] = {subject.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  if (s != NATS_OK && jerr != JSStreamNameExistErr) die("creating the stream", s);
  jsStreamInfo_Destroy(si);
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

int publish(const char* url, const std::string& stream, int publishers, long messages, int size) {
  {
    js_conn admin(url);
    ensure_stream(admin.js, stream);
  }
  const long per = messages / publishers;
  const std::string payload(static_cast<std::size_t>(size), 'x');
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(publishers));
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto t0 = clock_type::now();
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      js_conn c(url);
      const std::string subject = stream + ".p" + std::to_string(p);
      auto& mine = lat[static_cast<std::size_t>(p)];
      mine.reserve(static_cast<std::size_t>(per));
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      for (long i = 0; i < per; ++i) {
        auto a = clock_type::now();
        jsPubAck* ack = nullptr;
        natsStatus s = js_Publish(&ack, c.js, subject.c_str(), payload.data(), size, nullptr, nullptr);
        if (s != NATS_OK) die("publish", s);
        jsPubAck_Destroy(ack);
        mine.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - a).count());
      }
    });
  }
  while (ready.load() < publishers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  t0 = clock_type::now();
  go = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  const double total = static_cast<double>(per * publishers);
  std::printf("publishers=%d messages=%.0f size=%d rate=%.0f msgs/s ack_p50=%.0fus ack_p99=%.0fus\n", publishers, total,
              size, total / secs, percentile(all, 0.50), percentile(all, 0.99));
  return 0;
}

int fill(const char* url, const std::string& stream, long long bytes, int size) {
  js_conn c(url);
  ensure_stream(c.js, stream);
  const std::string payload(static_cast<std::size_t>(size), 'x');
  const std::string subject = stream + ".fill";
  const long long count = bytes / size;
  auto t0 = clock_type::now();
  for (long long i = 0; i < count; ++i) {
    natsStatus s = js_PublishAsync(c.js, subject.c_str(), payload.data(), size, nullptr);
    if (s != NATS_OK) die("publish async", s);
    if (i % 100000 == 0 && i > 0) std::fprintf(stderr, "\rfill: %lld/%lld", i, count);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  if (natsStatus s = js_PublishAsyncComplete(c.js, &po); s != NATS_OK) die("waiting for acks", s);
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::fprintf(stderr, "\n");
  std::printf("filled %lld messages (%lld bytes of payload) in %.1f s\n", count, count * size, secs);
  return 0;
}

int wait_for(const char* url, const std::string& stream, long long messages, double timeout_s) {
  auto t0 = clock_type::now();
  while (std::chrono::duration<double>(clock_type::now() - t0).count() < timeout_s) {
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, url) == NATS_OK) {
      jsCtx* js = nullptr;
      jsStreamInfo* si = nullptr;
      if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
          js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr) == NATS_OK &&
          static_cast<long long>(si->State.Msgs) >= messages) {
        const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
        std::printf("stream %s answered with %llu messages, %llu bytes after %.2f s\n", stream.c_str(),
                    static_cast<unsigned long long>(si->State.Msgs), static_cast<unsigned long long>(si->State.Bytes),
                    secs);
        jsStreamInfo_Destroy(si);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        return 0;
      }
      jsStreamInfo_Destroy(si);
      jsCtx_Destroy(js);
      natsConnection_Destroy(nc);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "js_bench: stream %s did not answer with %lld messages within %.0f s\n", stream.c_str(),
               messages, timeout_s);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "publish" && argc == 7)
    return publish(argv[2], argv[3], std::atoi(argv[4]), std::atol(argv[5]), std::atoi(argv[6]));
  if (mode == "fill" && argc == 6) return fill(argv[2], argv[3], std::atoll(argv[4]), std::atoi(argv[5]));
  if (mode == "wait" && argc == 6) return wait_for(argv[2], argv[3], std::atoll(argv[4]), std::atof(argv[5]));
  std::fprintf(stderr,
               "usage: js_bench publish URL STREAM PUBLISHERS MESSAGES SIZE\n"
               "       js_bench fill URL STREAM BYTES SIZE\n"
               "       js_bench wait URL STREAM MESSAGES TIMEOUT_S\n");
  return 2;
}
