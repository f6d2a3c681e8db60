// The tests of ferry::sql and of the consistency library run every case on both databases:
// SQLite in a temporary directory and a real PostgreSQL (tests/support/postgres_server.h, started
// once per test binary, one fresh database per test).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/sql.h"
#include "ferry/transport.h"
#include "postgres_server.h"
#include "process.h"

namespace ferry::testing_db {

inline test::postgres_server* shared_postgres(std::string* why) {
  static std::string failure;
  static std::unique_ptr<test::postgres_server> server = [] {
    auto s = std::make_unique<test::postgres_server>();
    if (!s->start(test::make_temp_dir("ferry-pg"), &failure)) return std::unique_ptr<test::postgres_server>();
    return s;
  }();
  *why = failure;
  return server.get();
}

class db_test : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = test::make_temp_dir("ferry-sqlite");
      url_ = "sqlite:" + dir_ + "/test.db";
    } else {
      std::string why;
      test::postgres_server* pg = shared_postgres(&why);
      if (pg == nullptr) GTEST_SKIP() << why;
      static std::atomic<int> counter{0};
      const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
      auto admin = sql::open_postgres(pg->conninfo());
      ASSERT_TRUE(admin.is_ok()) << admin.status().to_string();
      // CREATE DATABASE cannot run inside a transaction: commit the one begin() opened first.
      auto tx = admin.value()->begin();
      ASSERT_TRUE(tx.is_ok());
      ASSERT_TRUE(tx.value()->exec("COMMIT").is_ok());
      ASSERT_TRUE(tx.value()->exec("CREATE DATABASE " + name).is_ok());
      ASSERT_TRUE(tx.value()->exec("BEGIN").is_ok());
      url_ = "host=127.0.0.1 port=" + std::to_string(pg->port()) + " user=ferry dbname=" + name;
    }
    auto d = sql::open(url_);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    db_ = std::move(d).value();
  }
  void TearDown() override {
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Another database object (another pool of connections) on the same database.
  std::unique_ptr<sql::database> open_again() {
    auto d = sql::open(url_);
    EXPECT_TRUE(d.is_ok()) << d.status().to_string();
    return d.is_ok() ? std::move(d).value() : nullptr;
  }
  sql::database& db() { return *db_; }
  [[nodiscard]] bool postgres() const { return GetParam() == "postgres"; }
  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  std::string dir_;
  std::string url_;
  std::unique_ptr<sql::database> db_;
};

inline std::string param_name(const ::testing::TestParamInfo<std::string>& i) { return i.param; }

#define FERRY_BOTH_DATABASES(suite) \
  INSTANTIATE_TEST_SUITE_P(Db, suite, ::testing::Values("sqlite", "postgres"), ::ferry::testing_db::param_name)

// Every message a subscription received, in arrival order.
class received {
 public:
  delivery_callback callback() {
    return [this](message&& m) {
      m.ack();
      std::lock_guard lock(mu_);
      all_.push_back(std::move(m));
      cv_.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return all_.size() >= n; });
  }
  std::vector<message> all() {
    std::lock_guard lock(mu_);
    return all_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<message> all_;
};

// A publisher in front of another that fails every publish while `down` is set: a broker outage
// as the relay sees it.
class switchable_publisher : public publisher {
 public:
  explicit switchable_publisher(publisher& inner) : inner_(inner) {}
  status publish(message m) override {
    tried.fetch_add(1);
    if (down) return unavailable("broker down (test)");
    if (!refused_subject.empty() && m.subject == refused_subject) {
      return invalid_argument("no stream takes " + m.subject + " (test)");
    }
    ++published;
    return inner_.publish(std::move(m));
  }
  status flush(std::chrono::milliseconds timeout) override { return inner_.flush(timeout); }
  std::atomic<bool> down{false};
  std::string refused_subject;  // set before publishing starts: always refused
  std::atomic<int> published{0};
  std::atomic<int> tried{0};  // every publish, failed ones too

 private:
  publisher& inner_;
};

}  // namespace ferry::testing_db
