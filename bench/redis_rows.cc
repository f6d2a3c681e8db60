// The Redis rows of transport_throughput: ferry's Redis Streams transport against raw hiredis
// sending the same commands to one redis-server (started here, in memory: the client is measured,
// not the disk).
//
// Publishing: n entries of 16 bytes with an id field, one XADD at a time (each waited for) and 256
// pipelined at a time. Consuming: the same n entries read by a new consumer group, each
// acknowledged: raw hiredis reads 256 at a time (XREADGROUP COUNT 256) and acknowledges each batch
// with one XACK; ferry's subscription (max_in_flight 256) acks each message in its callback.
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "ferry/redis.h"
#include "process.h"
#include "redis_server.h"
#include "throughput.h"

namespace throughput {
namespace {

using context = std::unique_ptr<redisContext, decltype(&redisFree)>;
using reply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

context raw_connect(int port) { return context(redisConnect("127.0.0.1", port), &redisFree); }

reply run(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())),
               &freeReplyObject);
}

// Raw hiredis XADDs: one at a time (batch 1) or `batch` pipelined.
void raw_publish(int port, const std::string& stream, std::uint64_t n, std::size_t batch, runs& r) {
  context c = raw_connect(port);
  const std::string payload(payload_size, 'x');
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns();
  std::uint64_t failed = 0;
  for (std::uint64_t i = 0; i < n; i += batch) {
    const std::uint64_t end = std::min<std::uint64_t>(i + batch, n);
    std::vector<std::string> ids;
    for (std::uint64_t j = i; j < end; ++j) ids.push_back("id-" + std::to_string(j));
    for (std::uint64_t j = i; j < end; ++j) {
      const std::string& id = ids[j - i];
      const char* argv[] = {"XADD", stream.c_str(), "*", "payload", payload.data(), "ferry-id", id.data()};
      const std::size_t lens[] = {4, stream.size(), 1, 7, payload.size(), 8, id.size()};
      redisAppendCommandArgv(c.get(), 7, argv, lens);
    }
    for (std::uint64_t j = i; j < end; ++j) {
      void* out = nullptr;
      if (redisGetReply(c.get(), &out) != REDIS_OK || out == nullptr) ++failed;
      freeReplyObject(out);
    }
  }
  r.pub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.rates.push_back(failed == 0 ? static_cast<double>(n) / seconds_since(start) : 0);
}

void ferry_publish(const std::string& address, const std::string& stream, std::uint64_t n, std::size_t batch, runs& r) {
  auto t = ferry::redis::connect(address, {.consumer = "bench"});
  if (!t.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  sdk_publish(**t, stream, n, batch, r);
}

// Raw hiredis in a new group: XREADGROUP 256 at a time, one XACK per batch.
void raw_consume(int port, const std::string& stream, std::uint64_t n, runs& r) {
  context c = raw_connect(port);
  const std::string group = "raw-" + ferry::new_id();
  run(c.get(), {"XGROUP", "CREATE", stream, group, "0"});
  std::uint64_t got = 0;
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns();
  const auto give_up = start + 120s;
  while (got < n && clock_type::now() < give_up) {
    reply rep =
        run(c.get(), {"XREADGROUP", "GROUP", group, "raw", "COUNT", "256", "BLOCK", "100", "STREAMS", stream, ">"});
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) continue;
    const redisReply* entries = rep->element[0]->element[1];
    std::vector<const char*> argv = {"XACK", stream.c_str(), group.c_str()};
    std::vector<std::size_t> lens = {4, stream.size(), group.size()};
    for (std::size_t i = 0; i < entries->elements; ++i) {
      const redisReply* e = entries->element[i];
      const redisReply* fields = e->element[1];
      bool has_id = false;  // read the id, as the transport does
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        has_id = has_id || std::string_view(fields->element[f]->str, fields->element[f]->len) == "ferry-id";
      }
      if (!has_id) continue;
      argv.push_back(e->element[0]->str);
      lens.push_back(e->element[0]->len);
      ++got;
    }
    reply ack(
        static_cast<redisReply*>(redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())),
        &freeReplyObject);
  }
  r.sub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.rates.push_back(rate(got, n, seconds_since(start)));
}

void ferry_consume(const std::string& address, const std::string& stream, std::uint64_t n, runs& r) {
  auto t = ferry::redis::connect(address, {.consumer = "bench"});
  if (!t.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  sdk_consume(**t, stream, {.group = "ferry-" + ferry::new_id(), .max_in_flight = 256}, n, r);
}

}  // namespace

void redis_rows(int rounds, bool quick, const wanted_fn& wanted) {
  const bool pub_raw = wanted("redis-pub-raw"), pub_ferry = wanted("redis-pub-ferry"),
             batch_raw = wanted("redis-batch-raw"), batch_ferry = wanted("redis-batch-ferry"),
             con_raw = wanted("redis-consume-raw"), con_ferry = wanted("redis-consume-ferry");
  if (!pub_raw && !pub_ferry && !batch_raw && !batch_ferry && !con_raw && !con_ferry) return;
  ferry::test::redis_server server;
  if (!server.start(ferry::test::make_temp_dir("ferry-bench-redis-"), false)) {
    std::printf("redis-server did not start (make deps installs it)\n");
    return;
  }
  const std::uint64_t one_n = quick ? 5'000 : 30'000, batch_n = quick ? 50'000 : 300'000;
  runs pr, pf, br, bf, cr, cf;
  for (int i = 0; i < rounds; ++i) {
    const std::string s = "bench." + std::to_string(i) + ".";
    if (pub_raw) raw_publish(server.port(), s + "pub-raw", one_n, 1, pr);
    if (pub_ferry) ferry_publish(server.address(), s + "pub-ferry", one_n, 1, pf);
    if (batch_raw) raw_publish(server.port(), s + "batch-raw", batch_n, 256, br);
    if (batch_ferry) ferry_publish(server.address(), s + "batch-ferry", batch_n, 256, bf);
    if (con_raw || con_ferry) {
      const std::string stream = s + "consume";
      runs fill;
      raw_publish(server.port(), stream, batch_n, 256, fill);
      if (con_raw) raw_consume(server.port(), stream, batch_n, cr);
      if (con_ferry) ferry_consume(server.address(), stream, batch_n, cf);
    }
  }
  if (pub_raw) pr.print("raw hiredis, XADD one at a time");
  if (pub_ferry) pf.print("ferry redis, publish()");
  if (batch_raw) br.print("raw hiredis, 256 XADDs pipelined");
  if (batch_ferry) bf.print("ferry redis, publish(batch of 256)");
  if (con_raw) cr.print("raw hiredis, XREADGROUP 256 + XACK");
  if (con_ferry) cf.print("ferry redis, subscribe + ack");
  if (pub_raw && pub_ferry && batch_raw && batch_ferry) {
    std::printf("ferry redis / raw hiredis (medians): publish() %.2f, publish(batch of 256) %.2f\n",
                pf.median() / pr.median(), bf.median() / br.median());
  }
  if (con_raw && con_ferry)
    std::printf("ferry redis / raw hiredis (medians): consume with ack %.2f\n", cf.median() / cr.median());
}

}  // namespace throughput
