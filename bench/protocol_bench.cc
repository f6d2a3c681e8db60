// Micro benchmarks of the hot path pieces: parsing PUB frames, encoding MSG frames, matching
// subjects through the per-thread cache. Run with `make microbench`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "broker/sublist.h"
#include "protocol/encoder.h"
#include "protocol/parser.h"

namespace {

struct counting_handler {
  std::size_t pubs = 0;
  bool on_connect(std::string_view) { return true; }
  bool on_pub(const ferry::protocol::pub_frame& f) {
    benchmark::DoNotOptimize(f.data.data());
    ++pubs;
    return true;
  }
  bool on_sub(std::string_view, std::string_view, std::string_view) { return true; }
  bool on_unsub(std::string_view, std::int64_t) { return true; }
  bool on_ping() { return true; }
  bool on_pong() { return true; }
  bool on_ok() { return true; }
  bool on_info(std::string_view) { return true; }
  bool on_err(std::string_view) { return false; }
};

void BM_ParsePub(benchmark::State& state) {
  const std::size_t size = static_cast<std::size_t>(state.range(0));
  const std::string frame = "PUB bench.subject.x " + std::to_string(size) + "\r\n" + std::string(size, 'x') + "\r\n";
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk += frame;
  const std::size_t frames = chunk.size() / frame.size();
  ferry::protocol::parser p;
  counting_handler h;
  for (auto _ : state) {
    std::size_t off = 0;
    while (off < chunk.size()) {
      std::span<char> w = p.prepare();
      const std::size_t n = std::min(w.size(), chunk.size() - off);
      std::memcpy(w.data(), chunk.data() + off, n);
      p.commit(n);
      off += n;
      p.process(h);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * frames));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_ParsePub)->Arg(16)->Arg(128)->Arg(1024);

void BM_EncodeMsg(benchmark::State& state) {
  const std::string src = std::string(128, 'x') + "\r\n";
  ferry::protocol::message_encoding e;
  ferry::byte_buffer out;
  for (auto _ : state) {
    e.reset("bench.subject.x", "_INBOX.reply.1", 0, std::string_view(src).substr(0, 128));
    for (int i = 0; i < 4; ++i) e.append(out, "42");
    if (out.size() > (1 << 20)) out.clear();
  }
  state.SetItemsProcessed(state.iterations() * 4);
}
BENCHMARK(BM_EncodeMsg);

class nop_target : public ferry::broker::delivery_target {
 public:
  bool deliver(ferry::broker::subscription&, const ferry::broker::routed_message&, ferry::broker::worker*) override {
    return true;
  }
  [[nodiscard]] std::uint64_t client_id() const override { return 1; }
};

void BM_MatchCached(benchmark::State& state) {
  ferry::broker::sublist sl;
  auto t = std::make_shared<nop_target>();
  for (int i = 0; i < 1000; ++i) {
    (void)sl.insert(
        std::make_shared<ferry::broker::subscription>(t, "orders." + std::to_string(i) + ".*", "", std::to_string(i)));
  }
  (void)sl.insert(std::make_shared<ferry::broker::subscription>(t, "orders.>", "", "all"));
  ferry::broker::match_cache cache(sl);
  const std::string subjects[] = {"orders.1.new", "orders.2.new", "orders.3.paid"};
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.match(subjects[i++ % 3]).plain.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchCached);

void BM_MatchUncached(benchmark::State& state) {
  ferry::broker::sublist sl;
  auto t = std::make_shared<nop_target>();
  for (int i = 0; i < 1000; ++i) {
    (void)sl.insert(
        std::make_shared<ferry::broker::subscription>(t, "orders." + std::to_string(i) + ".*", "", std::to_string(i)));
  }
  for (auto _ : state) benchmark::DoNotOptimize(sl.match("orders.500.new")->plain.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchUncached);

}  // namespace

BENCHMARK_MAIN();
