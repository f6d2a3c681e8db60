// Durability by crashing: publishers write to a `sync always` stream and a consumer acknowledges
// with confirmation, while ferryd is killed with SIGKILL at random moments and restarted, several
// times. Afterwards every acknowledged publish is in the stream exactly once, with its content
// and sequence, and no confirmed acknowledgement is delivered again.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "base/base64.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* connect_json =
    R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1})";

struct server {
  child_process proc;
  int port = free_port();
  std::string dir = make_temp_dir("ferry-crash-");
  server() {
    std::ofstream(dir + "/ferryd.conf") << "jetstream { store_dir: \"" << dir << "/js\", sync_interval: always }\n";
  }
  bool start() {
    return proc.start({ferryd_path(), "-a", "127.0.0.1", "-p", std::to_string(port), "-c", dir + "/ferryd.conf"},
                      dir + "/ferryd.log") &&
           proc.wait_for_port(port, 20s);
  }
};

// The stream sequence in an ack subject $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>;
// 0 when it is not one.
std::uint64_t stream_seq_of(const std::string& reply) {
  std::vector<std::string> tok;
  std::size_t s = 0;
  for (std::size_t i = 0; i <= reply.size(); ++i) {
    if (i == reply.size() || reply[i] == '.') {
      tok.push_back(reply.substr(s, i - s));
      s = i + 1;
    }
  }
  return tok.size() == 9 ? std::stoull(tok[5]) : 0;
}

struct acked {
  std::uint64_t seq;
  std::string subject;
  std::string data;
};

TEST(Crash, AcknowledgedDataSurvivesSigkill) {
  server srv;
  ASSERT_TRUE(srv.start());
  {
    raw_client admin;
    ASSERT_TRUE(admin.connect(srv.port));
    ASSERT_TRUE(admin.handshake(connect_json));
    auto r =
        json::parse(raw_request(admin, "$JS.API.STREAM.CREATE.CRASH", R"({"name":"CRASH","subjects":["crash.>"]})", 1));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    r = json::parse(raw_request(
        admin, "$JS.API.CONSUMER.DURABLE.CREATE.CRASH.C",
        R"({"stream_name":"CRASH","config":{"durable_name":"C","ack_policy":"explicit","ack_wait":2000000000}})", 2));
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  std::mutex mu;
  std::vector<acked> acks;                 // publishes the server confirmed
  std::set<std::uint64_t> confirmed_acks;  // consumer acks the server confirmed
  std::set<std::uint64_t> delivered;       // stream sequences the consumer received
  std::mt19937 rng(12345);
  constexpr int publishers = 4;
  // `make test` runs 5 rounds; `make soak` 100 (FERRY_CRASH_ROUNDS).
  const int rounds = std::getenv("FERRY_CRASH_ROUNDS") ? std::atoi(std::getenv("FERRY_CRASH_ROUNDS")) : 5;
  int next_id[publishers] = {};
  raw_client admin;
  int id = 100;
  std::size_t checked = 0;  // acks[0, checked) verified in earlier rounds
  // Every acknowledged publish of the round is stored once, with its subject and content.
  const auto check_new_acks = [&](int round) {
    if (!admin.connect(srv.port) || !admin.handshake(connect_json)) {
      ADD_FAILURE() << "no admin connection after round " << round;
      return;
    }
    std::set<std::uint64_t> seqs;
    for (std::size_t i = 0; i < acks.size(); ++i) {
      EXPECT_TRUE(seqs.insert(acks[i].seq).second) << "two acknowledged publishes share seq " << acks[i].seq;
    }
    for (; checked < acks.size(); ++checked) {
      const acked& a = acks[checked];
      const std::string reply =
          raw_request(admin, "$JS.API.STREAM.MSG.GET.CRASH", "{\"seq\":" + std::to_string(a.seq) + "}", ++id);
      auto j = json::parse(reply, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << reply;
      ASSERT_TRUE(j.contains("message")) << "round " << round << ": acknowledged seq " << a.seq
                                         << " is missing: " << reply;
      EXPECT_EQ(j["message"]["subject"], a.subject);
      EXPECT_EQ(base64_decode(j["message"].value("data", std::string())), a.data) << "content of seq " << a.seq;
    }
    admin.close();
  };

  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < publishers; ++p) {
      threads.emplace_back([&, p] {
        raw_client c;
        if (!c.connect(srv.port) || !c.handshake(connect_json)) return;
        const std::string inbox = "_INBOX.pub" + std::to_string(p);
        c.send("SUB " + inbox + ".* 1\r\n");
        std::map<int, std::string> inflight;  // id -> data
        std::string pending;
        while (!stop && !c.closed()) {
          // Keep a window of 16 publishes in flight.
          std::string out;
          while (inflight.size() < 16) {
            const int id = next_id[p]++;
            const std::string data =
                "p" + std::to_string(p) + "-" + std::to_string(id) + "-" + std::string(id % 50, 'x');
            inflight[id] = data;
            out += "PUB crash." + std::to_string(p) + " " + inbox + "." + std::to_string(id) + " " +
                   std::to_string(data.size()) + "\r\n" + data + "\r\n";
          }
          if (!c.send(out)) break;
          c.read_until("}", 200ms);
          pending += c.take();
          // Paced (at most ~1,600 publishes a second each, still 16 in flight when the kill
          // comes): every acknowledged publish is read back one by one after each round and the
          // stream is drained at the end, and unpaced a round stores some 100,000 messages.
          std::this_thread::sleep_for(10ms);
          // Parse complete acknowledgements: MSG <inbox>.<id> 1  <n>\r\n{"stream":"CRASH", "seq":N}\r\n
          for (;;) {
            const std::size_t at = pending.find("MSG " + inbox + ".");
            if (at == std::string::npos) break;
            const std::size_t eol = pending.find("\r\n", at);
            if (eol == std::string::npos) break;
            const std::string line = pending.substr(at, eol - at);
            const std::size_t size = std::stoul(line.substr(line.rfind(' ') + 1));
            if (pending.size() < eol + 2 + size + 2) break;
            const int id = std::stoi(line.substr(4 + inbox.size() + 1));
            const std::string body = pending.substr(eol + 2, size);
            pending.erase(0, eol + 2 + size + 2);
            auto j = json::parse(body, nullptr, false);
            auto it = inflight.find(id);
            if (it == inflight.end() || j.is_discarded() || j.contains("error")) continue;
            std::lock_guard lock(mu);
            acks.push_back({j["seq"].get<std::uint64_t>(), "crash." + std::to_string(p), it->second});
            inflight.erase(it);
          }
        }
      });
    }
    // A consumer that acknowledges with confirmation (the ack carries a reply subject).
    threads.emplace_back([&] {
      raw_client c;
      if (!c.connect(srv.port) || !c.handshake(connect_json)) return;
      c.send("SUB _INBOX.pull 1\r\nSUB _INBOX.ackack.* 2\r\n");
      std::string pending;
      int n = 0;
      while (!stop && !c.closed()) {
        const std::string next = R"({"batch":20,"expires":100000000})";
        c.send("PUB $JS.API.CONSUMER.MSG.NEXT.CRASH.C _INBOX.pull " + std::to_string(next.size()) + "\r\n" + next +
               "\r\n");
        c.read_until("\r\n", 150ms);
        pending += c.take();
        for (;;) {
          const std::size_t at = pending.find("MSG crash.");
          const std::size_t ack_at = pending.find("MSG _INBOX.ackack.");
          if (ack_at != std::string::npos && (at == std::string::npos || ack_at < at)) {
            const std::size_t eol = pending.find("\r\n", ack_at);
            if (eol == std::string::npos || pending.size() < eol + 4) break;
            const std::string line = pending.substr(ack_at, eol - ack_at);
            const std::uint64_t seq = std::stoull(line.substr(18, line.find(' ', 18) - 18));
            pending.erase(0, eol + 4);  // empty payload
            std::lock_guard lock(mu);
            confirmed_acks.insert(seq);
            continue;
          }
          if (at == std::string::npos) break;
          const std::size_t eol = pending.find("\r\n", at);
          if (eol == std::string::npos) break;
          const std::string line = pending.substr(at, eol - at);
          const std::size_t size = std::stoul(line.substr(line.rfind(' ') + 1));
          if (pending.size() < eol + 2 + size + 2) break;
          // MSG crash.<p> 1 $JS.ACK.CRASH.C.<dc>.<sseq>.<dseq>.<ts>.<pending> <size>
          std::istringstream words(line);
          std::string w1, w2, w3, reply;
          words >> w1 >> w2 >> w3 >> reply;
          const std::uint64_t sseq = stream_seq_of(reply);
          {
            std::lock_guard lock(mu);
            delivered.insert(sseq);
            EXPECT_EQ(confirmed_acks.count(sseq), 0u)
                << "a confirmed acknowledgement was delivered again: seq " << sseq;
          }
          pending.erase(0, eol + 2 + size + 2);
          if (++n % 3 != 0) {  // acknowledge two in three; the rest are redelivered later
            c.send("PUB " + reply + " _INBOX.ackack." + std::to_string(sseq) + " 4\r\n+ACK\r\n");
          }
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
    srv.proc.kill();  // SIGKILL, mid-load
    stop = true;
    for (auto& t : threads) t.join();
    ASSERT_TRUE(srv.start()) << "ferryd did not come back after SIGKILL in round " << round;
    check_new_acks(round);
    if (HasFatalFailure()) return;
  }
  ASSERT_GT(acks.size(), 100u) << "the test published too little to mean anything";

  // The consumer resumed without skipping: pull (and acknowledge) what is left, until nothing has
  // come for twice the ack wait (what was delivered into a dying connection comes back after it),
  // then every acknowledged publish was delivered at least once.
  ASSERT_TRUE(admin.connect(srv.port));
  ASSERT_TRUE(admin.handshake(connect_json));
  ASSERT_TRUE(admin.send("SUB _INBOX.drain 3\r\n"));
  for (int empty = 0; empty < 8;) {
    const std::string next = R"({"batch":2000,"expires":300000000})";
    ASSERT_TRUE(admin.send("PUB $JS.API.CONSUMER.MSG.NEXT.CRASH.C _INBOX.drain " + std::to_string(next.size()) +
                           "\r\n" + next + "\r\n"));
    const std::string got = admin.read_for(500ms);
    // A long drain outlives ping_interval: answer the server's PINGs, or it closes the connection.
    if (got.find("PING\r\n") != std::string::npos) {
      ASSERT_TRUE(admin.send("PONG\r\n"));
    }
    ASSERT_FALSE(admin.closed()) << "the server closed the draining connection";
    bool any = false;
    for (std::size_t at = 0; (at = got.find("$JS.ACK.CRASH.C.", at)) != std::string::npos;) {
      const std::size_t end = got.find(' ', at);
      const std::string reply = got.substr(at, end - at);
      if (const std::uint64_t sseq = stream_seq_of(reply); sseq != 0) delivered.insert(sseq);
      ASSERT_TRUE(admin.send("PUB " + reply + " 4\r\n+ACK\r\n"));
      any = true;
      at = end;
    }
    empty = any ? 0 : empty + 1;
  }
  std::size_t missing = 0;
  std::uint64_t first_missing = 0;
  for (const acked& a : acks) {
    if (delivered.count(a.seq) == 0 && missing++ == 0) first_missing = a.seq;
  }
  EXPECT_EQ(missing, 0u) << "acknowledged publishes never delivered, the first: seq " << first_missing
                         << "; consumer: " << raw_request(admin, "$JS.API.CONSUMER.INFO.CRASH.C", "", ++id);

  std::set<std::uint64_t> seqs;
  for (const acked& a : acks) seqs.insert(a.seq);
  auto info = json::parse(raw_request(admin, "$JS.API.STREAM.INFO.CRASH", "", ++id));
  EXPECT_GE(info["state"]["messages"].get<std::uint64_t>(), acks.size());
  std::printf(
      "crash: %zu acknowledged publishes and %zu confirmed consumer acks checked over %d SIGKILLs; stream holds %llu\n",
      acks.size(), confirmed_acks.size(), rounds,
      static_cast<unsigned long long>(info["state"]["messages"].get<std::uint64_t>()));
  srv.proc.stop();
  std::filesystem::remove_all(srv.dir);
}

// A publisher that retries after the broker died must not store its message twice: the
// deduplication window is rebuilt from the stored Nats-Msg-Id headers on restart.
TEST(Crash, DeduplicationSurvivesSigkill) {
  server srv;
  ASSERT_TRUE(srv.start());
  auto publish = [&](raw_client& c, const std::string& msg_id, int id) {
    const std::string hdr = "NATS/1.0\r\nNats-Msg-Id: " + msg_id + "\r\n\r\n";
    const std::string inbox = "_INBOX.dd." + std::to_string(id);
    c.send("SUB " + inbox + " " + std::to_string(500 + id) + "\r\nHPUB dd.x " + inbox + " " +
           std::to_string(hdr.size()) + " " + std::to_string(hdr.size() + 4) + "\r\n" + hdr + "data\r\n");
    EXPECT_TRUE(c.read_until("}\r\n", 5s)) << c.buffer();
    std::string buf = c.take();
    return buf.substr(buf.find('{'), buf.rfind('}') - buf.find('{') + 1);
  };
  {
    raw_client c;
    ASSERT_TRUE(c.connect(srv.port));
    ASSERT_TRUE(c.handshake(connect_json));
    auto r = json::parse(raw_request(c, "$JS.API.STREAM.CREATE.DD", R"({"name":"DD","subjects":["dd.>"]})", 1));
    ASSERT_FALSE(r.contains("error")) << r.dump();
    for (int i = 0; i < 50; ++i) {
      auto ack = json::parse(publish(c, "id-" + std::to_string(i), i));
      ASSERT_EQ(ack["seq"], i + 1) << ack.dump();
    }
  }
  srv.proc.kill();
  ASSERT_TRUE(srv.start());
  raw_client c;
  ASSERT_TRUE(c.connect(srv.port));
  ASSERT_TRUE(c.handshake(connect_json));
  for (int i : {0, 17, 49}) {
    auto ack = json::parse(publish(c, "id-" + std::to_string(i), 100 + i));
    EXPECT_EQ(ack["seq"], i + 1) << ack.dump();
    EXPECT_EQ(ack.value("duplicate", false), true) << ack.dump();
  }
  auto fresh = json::parse(publish(c, "id-new", 200));
  EXPECT_EQ(fresh["seq"], 51) << fresh.dump();
  EXPECT_FALSE(fresh.contains("duplicate"));
  srv.proc.stop();
  std::filesystem::remove_all(srv.dir);
}

}  // namespace
}  // namespace ferry::test
