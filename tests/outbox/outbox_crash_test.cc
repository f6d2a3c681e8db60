// The outbox under SIGKILL (see CMakeLists.txt). FERRY_OUTBOX_ROUNDS sets the number of kills
// (default 12).
#include <spdlog/spdlog.h>

#include <random>
#include <set>
#include <thread>

#include "sql/db_fixture.h"
#include "ferry/jetstream.h"
#include "ferry/outbox.h"
#include "raw_client.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing_db::db_test;

class OutboxCrash : public db_test {};

bool log_says(const std::string& file, const std::string& what) {
  return test::slurp(file).find(what) != std::string::npos;
}

TEST_P(OutboxCrash, RelaysKilledAtAnyPointLoseNothingAndKeepKeyOrder) {
  const int rounds = std::getenv("FERRY_OUTBOX_ROUNDS") ? std::atoi(std::getenv("FERRY_OUTBOX_ROUNDS")) : 12;
  const std::string dir = test::make_temp_dir("ferry-outbox-crash");
  const int port = test::free_port();
  test::child_process ferryd;
  ASSERT_TRUE(
      ferryd.start({test::ferryd_path(), "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir + "/js"},
                   dir + "/ferryd.log"));
  ASSERT_TRUE(ferryd.wait_for_port(port));
  const std::string nats = "nats://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(outbox::open(db()).is_ok());  // the tables exist before the processes race to make them

  const std::string member = test::program_path("outbox_member", "OUTBOX_MEMBER");
  test::child_process writer;
  ASSERT_TRUE(writer.start({member, "write", url(), "2500", "8"}, dir + "/writer.log"));
  test::child_process relays[2];
  auto start_relay = [&](int i) {
    const std::string log = dir + "/relay" + std::to_string(i) + ".log";
    ASSERT_TRUE(relays[i].start({member, "relay", url(), nats, "relay" + std::to_string(i)}, log));
  };
  start_relay(0);
  start_relay(1);
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    const int victim = static_cast<int>(rng() % 2);
    relays[victim].kill();
    start_relay(victim);
  }
  const auto writer_deadline = std::chrono::steady_clock::now() + 180s;
  while (!log_says(dir + "/writer.log", "done") && std::chrono::steady_clock::now() < writer_deadline) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(log_says(dir + "/writer.log", "done")) << test::slurp(dir + "/writer.log");
  auto box = outbox::open(db()).value();
  const auto drain_deadline = std::chrono::steady_clock::now() + 120s;
  while (box.pending(db()).value().rows > 0 && std::chrono::steady_clock::now() < drain_deadline) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(box.pending(db()).value().rows, 0) << test::slurp(dir + "/relay0.log") << test::slurp(dir + "/relay1.log");
  relays[0].stop();
  relays[1].stop();

  std::set<std::string> committed;
  {
    auto tx = db().begin();
    auto rows = tx.value()->query("SELECT k, n FROM items");
    ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
    for (const auto& r : rows.value()) committed.insert(r.text(0) + ":" + r.text(1));
  }
  ASSERT_EQ(committed.size(), 2000u);  // 2,500 transactions, every fifth rolled back

  jetstream::options o;
  o.streams = {{.name = "OB", .subjects = {"ob.>"}}};
  auto reader = jetstream::connect(nats, o);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  testing_db::received got;
  auto sub = reader.value()->subscribe("ob.items", {}, got.callback());
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE(got.wait_for(committed.size(), 60s)) << got.all().size() << " of " << committed.size();
  std::this_thread::sleep_for(500ms);  // anything beyond the committed messages would arrive now
  sub.value()->stop();

  std::set<std::string> seen;
  std::map<std::string, int> last_n;
  std::size_t duplicates = 0;
  std::size_t out_of_order = 0;
  for (const auto& m : got.all()) {
    EXPECT_EQ(m.payload.find("rolled-back"), std::string::npos)
        << "a message of a rolled-back transaction: " << m.payload;
    if (!seen.insert(m.payload).second) {
      ++duplicates;
      continue;
    }
    const auto colon = m.payload.find(':');
    const std::string key = m.payload.substr(0, colon);
    const int n = std::stoi(m.payload.substr(colon + 1));
    auto it = last_n.find(key);
    if (it != last_n.end() && n < it->second) ++out_of_order;
    last_n[key] = n;
  }
  EXPECT_EQ(seen, committed) << "every committed message, nothing else";
  EXPECT_EQ(duplicates, 0u) << "a relay's re-send carries the row's message id: the stream's dedup window drops it";
  EXPECT_EQ(out_of_order, 0u);
  spdlog::info("outbox crash test ({}): {} relay SIGKILLs, {} committed messages delivered once, in key order",
               GetParam(), rounds, seen.size());
}

FERRY_BOTH_DATABASES(OutboxCrash);

}  // namespace
}  // namespace ferry
