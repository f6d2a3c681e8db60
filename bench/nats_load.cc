// nats_load: the load generator of bench/compare.sh. It speaks the NATS protocol to any server,
// so one binary measures nats-server and ferryd (or two ferryd builds) alike.
//
//   nats_load HOST:PORT SCENARIO MESSAGES SIZE [N]
//
// Raw scenarios write pipelined protocol frames on plain sockets (the client does next to no
// work, so the server is what is measured):
//   raw-pub      one connection publishes MESSAGES, then PING/PONG
//   raw-pubsub   the same with N subscriber connections reading everything
// Client scenarios use nats.c, as applications do:
//   pub | pubsub [N] | queue [N]   publish (and N plain or queue subscribers receive)
//   reqrep                          one request at a time, latency percentiles
//   jspub                           JetStream publishes, acknowledgements awaited asynchronously
//   jsfetch                         fetch + ack from a pull consumer over what jspub stored
// Prints one line: "scenario=.. msgs=.. secs=.. msgs_per_s=.. [p50_us= p99_us=] [lost=]".
#include <arpa/inet.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <memory>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

double since(steady::time_point t0) { return std::chrono::duration<double>(steady::now() - t0).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "nats_load: %s\n", what.c_str());
  std::exit(1);
}

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) die(std::string(what) + ": " + natsStatus_GetText(s));
}

void report(const std::string& scenario, long msgs, double secs, const std::string& extra = "") {
  std::printf("scenario=%s msgs=%ld secs=%.3f msgs_per_s=%.0f %s\n", scenario.c_str(), msgs, secs,
              static_cast<double>(msgs) / secs, extra.c_str());
}

// ---- raw sockets ----

class raw_conn {
 public:
  raw_conn(const std::string& host, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect " + host);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    write_all("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n");
    wait_for("PONG\r\n");
  }
  ~raw_conn() { ::close(fd_); }
  void write_all(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::write(fd_, s.data(), s.size());
      if (n <= 0) die("write");
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Reads (and drops) everything until `needle` arrives.
  void wait_for(std::string_view needle) {
    std::string window;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) die("read (closed by the server?)");
      window.append(buf, static_cast<std::size_t>(n));
      if (window.find(needle) != std::string::npos) return;
      window.erase(0, window.size() > needle.size() ? window.size() - needle.size() : 0);
    }
  }

 private:
  int fd_ = -1;
};

void raw(const std::string& host, int port, const std::string& scenario, long n, int size, int subs) {
  const std::string frame =
      "PUB bench.raw " + std::to_string(size) + "\r\n" + std::string(static_cast<std::size_t>(size), 'x') + "\r\n";
  std::string batch;
  for (int i = 0; i < 256; ++i) batch += frame;
  std::vector<std::unique_ptr<raw_conn>> readers;
  for (int i = 0; i < subs; ++i) {
    readers.push_back(std::make_unique<raw_conn>(host, port));
    // bench.end comes last from the one publisher: once it is here, everything before it is.
    readers.back()->write_all("SUB bench.raw 1\r\nSUB bench.end 2\r\nPING\r\n");
    readers.back()->wait_for("PONG\r\n");
  }
  raw_conn pub(host, port);
  const auto t0 = steady::now();
  std::vector<std::thread> threads;
  for (auto& r : readers) threads.emplace_back([&r] { r->wait_for("MSG bench.end"); });
  long sent = 0;
  for (; sent + 256 <= n; sent += 256) pub.write_all(batch);
  for (; sent < n; ++sent) pub.write_all(frame);
  pub.write_all(subs > 0 ? "PUB bench.end 0\r\n\r\nPING\r\n" : "PING\r\n");
  pub.wait_for("PONG\r\n");
  for (auto& t : threads) t.join();
  report(scenario, subs == 0 ? n : n * subs, since(t0), subs == 0 ? "" : "subs=" + std::to_string(subs));
}

// ---- nats.c ----

natsConnection* connect_nats(const std::string& url, bool send_asap) {
  natsOptions* o = nullptr;
  check(natsOptions_Create(&o), "options");
  check(natsOptions_SetURL(o, url.c_str()), "url");
  check(natsOptions_SetSendAsap(o, send_asap), "send asap");
  check(natsOptions_SetMaxPendingMsgs(o, 10'000'000), "pending");
  natsConnection* nc = nullptr;
  check(natsConnection_Connect(&nc, o), "connect");
  natsOptions_Destroy(o);
  return nc;
}

struct counter {
  std::atomic<long> n{0};
  long want = 0;
  std::atomic<bool> done{false};
};

void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* c_) {
  auto* c = static_cast<counter*>(c_);
  if (c->n.fetch_add(1) + 1 == c->want) c->done = true;
  natsMsg_Destroy(m);
}

void on_request(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(m), natsMsg_GetData(m), natsMsg_GetDataLength(m));
  natsMsg_Destroy(m);
}

void client(const std::string& url, const std::string& scenario, long n, int size, int subs) {
  const std::string payload(static_cast<std::size_t>(size), 'x');
  natsConnection* pub = connect_nats(url, scenario == "reqrep");
  if (scenario == "pub" || scenario == "pubsub" || scenario == "queue") {
    const bool queue = scenario == "queue";
    counter c;
    c.want = scenario == "pub" ? 0 : (queue ? n : n * subs);
    std::vector<natsConnection*> conns;
    for (int i = 0; scenario != "pub" && i < subs; ++i) {
      conns.push_back(connect_nats(url, false));
      natsSubscription* s = nullptr;
      check(queue ? natsConnection_QueueSubscribe(&s, conns.back(), "bench.c", "q", on_msg, &c)
                  : natsConnection_Subscribe(&s, conns.back(), "bench.c", on_msg, &c),
            "subscribe");
      natsSubscription_SetPendingLimits(s, -1, -1);
      check(natsConnection_Flush(conns.back()), "flush");
    }
    const auto t0 = steady::now();
    for (long i = 0; i < n; ++i) check(natsConnection_Publish(pub, "bench.c", payload.data(), size), "publish");
    check(natsConnection_FlushTimeout(pub, 60000), "flush");
    const auto deadline = steady::now() + std::chrono::seconds(60);
    while (c.want > 0 && !c.done && steady::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const double secs = since(t0);
    const long msgs = c.want > 0 ? c.want : n;
    report(scenario, msgs, secs, c.want > 0 ? "lost=" + std::to_string(c.want - c.n.load()) : "");
  } else if (scenario == "reqrep") {
    natsConnection* responder = connect_nats(url, true);
    natsSubscription* s = nullptr;
    check(natsConnection_Subscribe(&s, responder, "bench.rr", on_request, nullptr), "subscribe");
    check(natsConnection_Flush(responder), "flush");
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(n));
    const auto t0 = steady::now();
    for (long i = 0; i < n; ++i) {
      const auto a = steady::now();
      natsMsg* r = nullptr;
      check(natsConnection_Request(&r, pub, "bench.rr", payload.data(), size, 5000), "request");
      us.push_back(since(a) * 1e6);
      natsMsg_Destroy(r);
    }
    const double secs = since(t0);
    std::sort(us.begin(), us.end());
    char extra[96];
    std::snprintf(extra, sizeof extra, "p50_us=%.1f p99_us=%.1f", us[us.size() / 2], us[us.size() * 99 / 100]);
    report(scenario, n, secs, extra);
  } else if (scenario == "jspub" || scenario == "jsfetch") {
    jsCtx* js = nullptr;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4096;
    check(natsConnection_JetStream(&js, pub, &jo), "jetstream");
    if (scenario == "jspub") {
      js_DeleteStream(js, "BENCH", nullptr, nullptr);
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = "BENCH";
      const char* subjects[] = {"bench.js"};
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Storage = js_FileStorage;
      check(js_AddStream(nullptr, js, &cfg, nullptr, nullptr), "add stream");
      const auto t0 = steady::now();
      for (long i = 0; i < n; ++i) check(js_PublishAsync(js, "bench.js", payload.data(), size, nullptr), "publish");
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 60000;
      check(js_PublishAsyncComplete(js, &po), "publish complete");
      report(scenario, n, since(t0));
    } else {
      jsConsumerConfig cc;
      jsConsumerConfig_Init(&cc);
      const std::string durable = "fetch" + std::to_string(::getpid());
      cc.Durable = durable.c_str();
      cc.AckPolicy = js_AckExplicit;
      check(js_AddConsumer(nullptr, js, "BENCH", &cc, nullptr, nullptr), "add consumer");
      natsSubscription* s = nullptr;
      check(js_PullSubscribe(&s, js, "bench.js", durable.c_str(), nullptr, nullptr, nullptr), "pull subscribe");
      long got = 0;
      const auto t0 = steady::now();
      while (got < n) {
        natsMsgList list{};
        const natsStatus st = natsSubscription_Fetch(&list, s, 256, 5000, nullptr);
        if (st != NATS_OK) break;
        for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
        got += list.Count;
        natsMsgList_Destroy(&list);
      }
      report(scenario, got, since(t0), "lost=" + std::to_string(n - got));
      natsSubscription_Destroy(s);
    }
    jsCtx_Destroy(js);
  } else {
    die("unknown scenario " + scenario);
  }
  natsConnection_Destroy(pub);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: nats_load HOST:PORT SCENARIO MESSAGES SIZE [N]\n");
    return 2;
  }
  const std::string hostport = argv[1];
  const std::string scenario = argv[2];
  const long n = std::atol(argv[3]);
  const int size = std::atoi(argv[4]);
  const int extra = argc > 5 ? std::atoi(argv[5]) : 1;
  const std::size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || n <= 0 || size < 0) die("bad arguments");
  if (scenario.rfind("raw-", 0) == 0) {
    raw(hostport.substr(0, colon), std::atoi(hostport.c_str() + colon + 1), scenario,
        n, size, scenario == "raw-pub" ? 0 : extra);
    return 0;
  }
  nats_Open(-1);
  client("nats://" + hostport, scenario, n, size, extra);
  nats_Close();
  return 0;
}
