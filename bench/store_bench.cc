// Micro benchmarks of the message stores: appending (memory; file with sync interval, flushed
// every 64 messages; file with sync always and 8 flushes in flight), loading by sequence and
// with a filter, and the CRC. Run with `make microbench`.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "store/crc32c.h"
#include "store/store.h"

namespace {

using namespace ferry::store;

std::string fresh_dir() {
  static int n = 0;
  const auto d = std::filesystem::temp_directory_path() /
                 ("ferry_store_bench_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  std::filesystem::remove_all(d);
  return d.string();
}

std::unique_ptr<message_store> make(bool file, sync_policy sync) {
  store_options o;
  o.sync = sync;
  if (!file) return make_memory_store(o);
  return std::move(open_file_store(fresh_dir(), o).value());
}

void run_append(benchmark::State& state, bool file, sync_policy sync) {
  auto s = make(file, sync);
  const std::string data(static_cast<std::size_t>(state.range(0)), 'x');
  std::atomic<std::int64_t> in_flight{0};
  std::int64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->append("bench.subject", "", data, ++i));
    if (i % 64 == 0 || sync == sync_policy::always) {
      ++in_flight;
      s->flush_then([&in_flight](ferry::status) { --in_flight; });
      while (in_flight.load() > 8) std::this_thread::yield();
    }
  }
  while (in_flight.load() > 0) std::this_thread::yield();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
  (void)s->destroy();
}

void BM_MemoryAppend(benchmark::State& state) { run_append(state, false, sync_policy::interval); }
void BM_FileAppendInterval(benchmark::State& state) { run_append(state, true, sync_policy::interval); }
void BM_FileAppendAlways(benchmark::State& state) { run_append(state, true, sync_policy::always); }
BENCHMARK(BM_MemoryAppend)->Arg(128)->Arg(4096);
BENCHMARK(BM_FileAppendInterval)->Arg(128)->Arg(4096);
BENCHMARK(BM_FileAppendAlways)->Arg(128)->UseRealTime();

void BM_Load(benchmark::State& state) {
  auto s = make(state.range(0) != 0, sync_policy::interval);
  constexpr std::uint64_t n = 100'000;
  for (std::uint64_t i = 0; i < n; ++i) (void)s->append("k." + std::to_string(i % 100), "", std::string(128, 'x'), 1);
  s->flush_then([](ferry::status) {});
  std::uint64_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->load(stream_seq{1 + (q++ * 7919) % n}));
  }
  state.SetItemsProcessed(state.iterations());
  (void)s->destroy();
}
BENCHMARK(BM_Load)->Arg(0)->Arg(1);

void BM_LoadNextFiltered(benchmark::State& state) {
  auto s = make(true, sync_policy::interval);
  constexpr std::uint64_t n = 100'000;
  for (std::uint64_t i = 0; i < n; ++i) (void)s->append("k." + std::to_string(i % 100), "", std::string(128, 'x'), 1);
  std::uint64_t from = 1;
  for (auto _ : state) {
    auto m = s->load_next(stream_seq{from}, "k.42");
    from = m.is_ok() ? m->seq.value + 1 : 1;
  }
  state.SetItemsProcessed(state.iterations());
  (void)s->destroy();
}
BENCHMARK(BM_LoadNextFiltered);

void BM_Crc32c(benchmark::State& state) {
  const std::string data(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(crc32c(data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(64)->Arg(4096);

}  // namespace
BENCHMARK_MAIN();
