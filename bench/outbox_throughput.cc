// outbox_throughput: what the outbox costs, side by side in one run, on SQLite and on a real
// PostgreSQL (started here, fsync on), publishing to ferryd's JetStream (started here, a stream
// with the default sync):
//
//   direct   each writer thread: a transaction inserting a row, commit, then publish the event and
//            wait for the PubAck (the dual write the outbox replaces)
//   outbox   each writer thread: a transaction inserting the row and its outbox message, commit;
//            one relay publishes; timed until the stream holds every message
//   saga     sagas of three steps (local reserve, a command answered by a participant over the
//            in-process transport, local confirm), started in transactions; steps per second
//
//   outbox_throughput [--messages N] [--writers W] [--runs R]
// Prints messages per second (median of R runs) and the ratio outbox / direct.
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ferry/inproc.h"
#include "ferry/jetstream.h"
#include "ferry/outbox.h"
#include "ferry/saga.h"
#include "postgres_server.h"
#include "process.h"
#include "raw_client.h"
#include "throughput.h"

namespace {

using namespace std::chrono_literals;
using throughput::clock_type;

struct config {
  int messages = 4000;
  int writers = 4;
  int runs = 3;
};

ferry::status make_items(ferry::sql::database& db) {
  return db.in_transaction([](ferry::sql::transaction& tx) -> ferry::status {
    FERRY_RETURN_IF_ERROR(tx.exec("DROP TABLE IF EXISTS items").status());
    return tx.exec("CREATE TABLE items (k TEXT NOT NULL, n INTEGER NOT NULL)").status();
  });
}

// Runs `per_message(writer, i)` for messages/writers messages on each writer thread.
void run_writers(const config& c, const std::function<void(int, int)>& per_message) {
  std::vector<std::thread> threads;
  for (int w = 0; w < c.writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < c.messages / c.writers; ++i) per_message(w, i);
    });
  }
  for (auto& t : threads) t.join();
}

double direct(const config& c, ferry::sql::database& db, ferry::transport& js) {
  if (!make_items(db).is_ok()) return 0;
  std::atomic<int> failed{0};
  const auto t0 = clock_type::now();
  run_writers(c, [&](int w, int i) {
    const std::string key = "k" + std::to_string(w) + "-" + std::to_string(i % 16);
    ferry::status s = db.in_transaction([&](ferry::sql::transaction& tx) {
      return tx.exec("INSERT INTO items (k, n) VALUES ($1, $2)", {key, std::int64_t{i}}).status();
    });
    ferry::message m("bench.items", key + ":" + std::to_string(i));
    m.key = key;
    if (s.is_ok()) s = js.publish(std::move(m));
    if (!s.is_ok()) ++failed;
  });
  const double secs = throughput::seconds_since(t0);
  if (failed > 0) std::fprintf(stderr, "direct: %d failures\n", failed.load());
  return c.messages / secs;
}

double with_outbox(const config& c, ferry::sql::database& db, ferry::transport& js, double* commit_rate) {
  if (!make_items(db).is_ok()) return 0;
  auto box = ferry::outbox::open(db).value();
  ferry::outbox_relay relay(db, js, {.batch = 512});
  if (!relay.start().is_ok()) return 0;
  std::atomic<int> failed{0};
  const auto t0 = clock_type::now();
  run_writers(c, [&](int w, int i) {
    const std::string key = "k" + std::to_string(w) + "-" + std::to_string(i % 16);
    ferry::status s = db.in_transaction([&](ferry::sql::transaction& tx) -> ferry::status {
      FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO items (k, n) VALUES ($1, $2)", {key, std::int64_t{i}}).status());
      ferry::message m("bench.items", key + ":" + std::to_string(i));
      m.key = key;
      return box.add(tx, std::move(m));
    });
    if (!s.is_ok()) ++failed;
  });
  *commit_rate = c.messages / throughput::seconds_since(t0);
  while (relay.stats().published < static_cast<std::uint64_t>(c.messages - failed) &&
         throughput::seconds_since(t0) < 120) {
    std::this_thread::sleep_for(1ms);
  }
  const double secs = throughput::seconds_since(t0);
  relay.stop();
  if (failed > 0) std::fprintf(stderr, "outbox: %d failures\n", failed.load());
  return c.messages / secs;
}

// Sagas of reserve (local), charge (a command the participant answers), confirm (local).
double sagas(const config& c, ferry::sql::database& db) {
  auto bus = ferry::inproc::make_transport();
  auto box = ferry::outbox::open(db, {.table = "saga_outbox"}).value();
  ferry::outbox_relay relay(db, *bus, {.outbox = {.table = "saga_outbox"}, .batch = 512});
  ferry::saga_orchestrator orch(db, box, {.table = "bench_saga"});
  ferry::saga_definition d{.type = "order", .reply_subject = "saga.reply"};
  auto noop = [](ferry::sql::transaction&, ferry::saga_instance&) { return ferry::status::ok(); };
  d.steps.push_back({.name = "reserve", .local = noop, .compensate_local = noop});
  d.steps.push_back(
      {.name = "charge", .command = [](const ferry::saga_instance& s) { return ferry::message("cmd.charge", s.id); }});
  d.steps.push_back({.name = "confirm", .local = noop});
  if (!orch.define(d).is_ok()) return 0;
  ferry::handler replies = orch.reply_handler();
  auto sub = bus->subscribe("cmd.charge", {}, [&](ferry::message&& m) {
    ferry::message r = ferry::saga_reply(m, true);
    for (int i = 0; i < 100 && !replies(r).is_ack(); ++i) {
    }
    m.ack();
  });
  if (!sub.is_ok() || !relay.start().is_ok()) return 0;
  const int n = c.messages / 4;
  const auto t0 = clock_type::now();
  std::atomic<int> started{0};
  run_writers({.messages = n, .writers = c.writers}, [&](int w, int i) {
    const std::string id = "s" + std::to_string(w) + "-" + std::to_string(i) + "-" + ferry::new_id();
    if (db.in_transaction([&](ferry::sql::transaction& tx) { return orch.start(tx, "order", id, {}); }).is_ok()) {
      ++started;
    }
  });
  while (orch.stats().completed < static_cast<std::uint64_t>(started.load()) && throughput::seconds_since(t0) < 120) {
    std::this_thread::sleep_for(1ms);
  }
  const double secs = throughput::seconds_since(t0);
  relay.stop();
  return 3.0 * static_cast<double>(orch.stats().completed) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (v <= 0) {
      std::fprintf(stderr, "outbox_throughput: %s needs a positive number\n", a.c_str());
      return 2;
    }
    if (a == "--messages")
      c.messages = v;
    else if (a == "--writers")
      c.writers = v;
    else if (a == "--runs")
      c.runs = v;
    else {
      std::fprintf(stderr, "usage: outbox_throughput [--messages N] [--writers W] [--runs R]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string dir = ferry::test::make_temp_dir("ferry-outbox-bench");
  const int port = ferry::test::free_port();
  ferry::test::child_process ferryd;
  if (!ferryd.start(
          {ferry::test::ferryd_path(), "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir + "/js"},
          dir + "/ferryd.log") ||
      !ferryd.wait_for_port(port)) {
    std::fprintf(stderr, "outbox_throughput: ferryd did not start\n");
    return 1;
  }
  ferry::jetstream::options jo;
  jo.streams = {{.name = "BENCH", .subjects = {"bench.>"}}};
  auto js = ferry::jetstream::connect("nats://127.0.0.1:" + std::to_string(port), jo);
  if (!js.is_ok()) {
    std::fprintf(stderr, "outbox_throughput: %s\n", js.status().to_string().c_str());
    return 1;
  }
  ferry::test::postgres_server pg;
  std::string why;
  struct database_row {
    std::string name, url;
    bool notify = true;
  };
  std::vector<database_row> databases = {{"sqlite", "sqlite:" + dir + "/bench.db"}};
  const std::string pg_dir = ferry::test::make_temp_dir("ferry-outbox-bench-pg");
  if (pg.start(pg_dir, &why, /*durable=*/true)) {
    databases.push_back({"postgres", pg.conninfo()});
    databases.push_back({"pg-nonotify", pg.conninfo(), false});  // the relay is woken in-process only
  } else {
    std::fprintf(stderr, "outbox_throughput: no PostgreSQL row: %s\n", why.c_str());
  }
  std::printf("outbox_throughput: %d messages, %d writer threads, median of %d runs; ferryd JetStream on loopback\n",
              c.messages, c.writers, c.runs);
  std::printf("%-11s %14s %14s %16s %8s %14s\n", "database", "direct msg/s", "outbox msg/s", "outbox commit/s", "ratio",
              "saga steps/s");
  for (const auto& [name, url, notify] : databases) {
    auto db =
        ferry::sql::open(url, {.pool_size = static_cast<std::size_t>(c.writers) + 2, .notify_other_processes = notify});
    if (!db.is_ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), db.status().to_string().c_str());
      continue;
    }
    std::vector<double> d, o, commits, s;
    for (int r = 0; r < c.runs; ++r) {
      d.push_back(direct(c, *db.value(), *js.value()));
      double commit_rate = 0;
      o.push_back(with_outbox(c, *db.value(), *js.value(), &commit_rate));
      commits.push_back(commit_rate);
      s.push_back(sagas(c, *db.value()));
    }
    const double dm = throughput::median_of(d), om = throughput::median_of(o);
    std::printf("%-11s %14.0f %14.0f %16.0f %8.2f %14.0f\n", name.c_str(), dm, om, throughput::median_of(commits),
                dm > 0 ? om / dm : 0, throughput::median_of(s));
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(pg_dir);
  return 0;
}
