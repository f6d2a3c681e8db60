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
//   jsfetch-raw [N]                 the same consumer set up with nats.c, then fetched and acked
//                                   with protocol frames on a plain socket: N pull requests of
//                                   256 outstanding (1), each read's acks sent in one write (the
//                                   client's own cost per message is small, so the server shows)
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
  // Reads what has arrived (blocking for at least one byte) and appends it to `to`.
  void read_into(std::string& to) {
    char buf[1 << 16];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) die("read (closed by the server?)");
    to.append(buf, static_cast<std::size_t>(n));
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

// Fetches and acks `n` messages of the pull consumer `durable` on stream BENCH over a plain
// socket, `outstanding` requests of 256 at a time; returns how many arrived.
long raw_fetch(const std::string& host, int port, const std::string& durable, long n, int outstanding) {
  raw_conn c(host, port);
  c.write_all("SUB _INBOX.bench 1\r\nPING\r\n");
  c.wait_for("PONG\r\n");
  const std::string next = "$JS.API.CONSUMER.MSG.NEXT.BENCH." + durable;
  long requested = 0, got = 0;
  std::string in, out;
  const auto request_more = [&] {
    while (requested < n && requested - got <= 256L * (outstanding - 1)) {  // keep `outstanding` batches asked for
      const long batch = std::min<long>(256, n - requested);
      const std::string body = "{\"batch\":" + std::to_string(batch) + "}";
      out += "PUB " + next + " _INBOX.bench " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
      requested += batch;
    }
  };
  request_more();
  c.write_all(out);
  out.clear();
  while (got < n) {
    c.read_into(in);
    std::size_t pos = 0;
    for (;;) {
      const std::size_t eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const std::string_view line(in.data() + pos, eol - pos);
      if (line.starts_with("MSG ") || line.starts_with("HMSG ")) {
        // MSG subject sid [reply] size / HMSG subject sid [reply] hdr_size total_size
        std::vector<std::string_view> f;
        for (std::size_t a = 0; a < line.size();) {
          const std::size_t b = std::min(line.find(' ', a), line.size());
          if (b > a) f.push_back(line.substr(a, b - a));
          a = b + 1;
        }
        const bool h = line[0] == 'H';
        const std::size_t size = std::strtoul(std::string(f.back()).c_str(), nullptr, 10);
        if (in.size() < eol + 2 + size + 2) break;  // the payload is not all here yet
        const bool has_reply = f.size() == (h ? 6U : 5U);
        if (!has_reply || !f[3].starts_with("$JS.ACK.")) {
          die("unexpected message on the inbox: " + std::string(line) + " " + in.substr(eol + 2, size));
        }
        out += "PUB ";
        out += f[3];
        out += " 4\r\n+ACK\r\n";
        ++got;
        pos = eol + 2 + size + 2;
      } else if (line == "PING") {
        out += "PONG\r\n";
        pos = eol + 2;
      } else if (line.starts_with("-ERR")) {
        die(std::string(line));
      } else {
        pos = eol + 2;  // +OK, PONG, INFO
      }
    }
    in.erase(0, pos);
    request_more();
    if (!out.empty()) {
      c.write_all(out);
      out.clear();
    }
  }
  c.write_all("PING\r\n");  // the last acks reached the server
  c.wait_for("PONG\r\n");
  return got;
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

void client(const std::string& host, int port, const std::string& scenario, long n, int size, int subs) {
  const std::string url = "nats://" + host + ":" + std::to_string(port);
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
  } else if (scenario == "jspub" || scenario == "jsfetch" || scenario == "jsfetch-raw") {
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
      if (scenario == "jsfetch-raw") {
        const auto t0 = steady::now();
        const long got = raw_fetch(host, port, durable, n, std::max(subs, 1));
        report(scenario, got, since(t0), "lost=" + std::to_string(n - got));
        jsCtx_Destroy(js);
        natsConnection_Destroy(pub);
        return;
      }
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
  client(hostport.substr(0, colon), std::atoi(hostport.c_str() + colon + 1), scenario, n, size, extra);
  nats_Close();
  return 0;
}
