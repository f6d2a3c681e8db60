// outbox_member: the application side of the outbox crash test, in a process of its own.
//
//   outbox_member write DB_URL TRANSACTIONS KEYS   writes TRANSACTIONS transactions, each a row of
//       `items` and its message (subject ob.items, key k<i % KEYS>, payload "<key>:<n>"); every
//       fifth one rolls back (payload "<key>:<n>:rolled-back"). Prints "done" at the end.
//   outbox_member relay DB_URL NATS_URL NAME       relays the outbox to JetStream stream OB until
//       killed (SIGKILL in the test, at any point of a pass).
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "ferry/jetstream.h"
#include "ferry/outbox.h"

namespace {

int write(const std::string& url, int transactions, int keys) {
  auto db = ferry::sql::open(url);
  if (!db.is_ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().to_string().c_str());
    return 1;
  }
  auto box = ferry::outbox::open(*db.value());
  ferry::status made = db.value()->in_transaction([](ferry::sql::transaction& tx) {
    return tx.exec("CREATE TABLE IF NOT EXISTS items (k TEXT NOT NULL, n INTEGER NOT NULL)").status();
  });
  if (!box.is_ok() || !made.is_ok()) {
    std::fprintf(stderr, "schema: %s %s\n", box.status().to_string().c_str(), made.to_string().c_str());
    return 1;
  }
  for (int i = 0; i < transactions; ++i) {
    const std::string key = "k" + std::to_string(i % keys);
    const int n = i / keys;
    const bool rollback = i % 5 == 4;
    for (int attempt = 0;; ++attempt) {
      auto tx = db.value()->begin();
      ferry::status s = tx.status();
      if (s.is_ok()) s = tx.value()->exec("INSERT INTO items (k, n) VALUES ($1, $2)", {key, std::int64_t{n}}).status();
      ferry::message m("ob.items", key + ":" + std::to_string(n) + (rollback ? ":rolled-back" : ""));
      m.key = key;
      if (s.is_ok()) s = box.value().add(*tx.value(), std::move(m));
      if (s.is_ok() && rollback) {
        tx.value()->rollback();
        break;
      }
      if (s.is_ok()) s = tx.value()->commit();
      if (s.is_ok()) break;
      if (attempt == 20) {
        std::fprintf(stderr, "transaction %d: %s\n", i, s.to_string().c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}

int relay(const std::string& url, const std::string& nats, const std::string& name) {
  auto db = ferry::sql::open(url);
  if (!db.is_ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().to_string().c_str());
    return 1;
  }
  ferry::jetstream::options o;
  o.streams = {{.name = "OB", .subjects = {"ob.>"}}};
  auto t = ferry::jetstream::connect(nats, o);
  if (!t.is_ok()) {
    std::fprintf(stderr, "connect: %s\n", t.status().to_string().c_str());
    return 1;
  }
  ferry::outbox_relay r(
      *db.value(), *t.value(),
      {.batch = 32, .poll_interval = std::chrono::milliseconds(50), .lease = std::chrono::seconds(1), .name = name});
  if (auto s = r.start(); !s.is_ok()) {
    std::fprintf(stderr, "start: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("relaying\n");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 5) return write(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "relay" && argc == 5) return relay(argv[2], argv[3], argv[4]);
  std::fprintf(stderr,
               "usage: outbox_member write DB_URL TRANSACTIONS KEYS\n"
               "       outbox_member relay DB_URL NATS_URL NAME\n");
  return 2;
}
