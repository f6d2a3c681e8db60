// ferry::sql on both databases: parameters and results, transactions, errors, commit signals.
#include <thread>

#include "db_fixture.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing_db::db_test;

class Sql : public db_test {};

TEST_P(Sql, ParametersAndResultsRoundTrip) {
  const std::string bytes("a\0b\xff\n", 5);
  ASSERT_TRUE(db().in_transaction([&](sql::transaction& tx) -> status {
                    FERRY_RETURN_IF_ERROR(tx.exec(std::string("CREATE TABLE t (n BIGINT, s TEXT, b ") +
                                                  (postgres() ? "BYTEA" : "BLOB") + ", z TEXT)")
                                              .status());
                    return tx
                        .exec("INSERT INTO t VALUES ($1, $2, $3, $4)",
                              {std::int64_t{-42}, "it's \"quoted\" $1", sql::blob{bytes}, nullptr})
                        .status();
                  })
                  .is_ok());
  auto tx = db().begin();
  ASSERT_TRUE(tx.is_ok());
  auto r = tx.value()->query("SELECT n, s, b, z FROM t WHERE n = $1", {std::int64_t{-42}});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r.value().size(), 1u);
  const sql::row& row = r.value()[0];
  EXPECT_EQ(row.integer(0), -42);
  EXPECT_EQ(row.text(1), "it's \"quoted\" $1");
  EXPECT_EQ(row.text(2), bytes);
  EXPECT_TRUE(row.is_null(3));
  EXPECT_FALSE(row.is_null(2));
}

TEST_P(Sql, RollbackAndDestructionDiscardWrites) {
  ASSERT_TRUE(
      db().in_transaction([](sql::transaction& tx) { return tx.exec("CREATE TABLE t (n INTEGER)").status(); }).is_ok());
  {
    auto tx = db().begin();
    ASSERT_TRUE(tx.is_ok());
    ASSERT_TRUE(tx.value()->exec("INSERT INTO t VALUES (1)").is_ok());
    tx.value()->rollback();
    EXPECT_FALSE(tx.value()->exec("INSERT INTO t VALUES (2)").is_ok()) << "a finished transaction refuses work";
  }
  {
    auto tx = db().begin();
    ASSERT_TRUE(tx.value()->exec("INSERT INTO t VALUES (3)").is_ok());
  }  // destroyed without commit
  EXPECT_FALSE(db().in_transaction([](sql::transaction& tx) -> status {
                     FERRY_RETURN_IF_ERROR(tx.exec("INSERT INTO t VALUES (4)").status());
                     return invalid_argument("changed my mind");
                   })
                   .is_ok());
  auto tx = db().begin();
  auto r = tx.value()->query("SELECT count(*) FROM t");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value()[0].integer(0), 0);
}

TEST_P(Sql, ErrorsSayWhatKind) {
  ASSERT_TRUE(
      db().in_transaction([](sql::transaction& tx) { return tx.exec("CREATE TABLE t (k TEXT PRIMARY KEY)").status(); })
          .is_ok());
  ASSERT_TRUE(
      db().in_transaction([](sql::transaction& tx) { return tx.exec("INSERT INTO t VALUES ('a')").status(); }).is_ok());
  status dup = db().in_transaction([](sql::transaction& tx) { return tx.exec("INSERT INTO t VALUES ('a')").status(); });
  EXPECT_EQ(dup.code(), status_code::already_exists) << dup.to_string();
  status bad = db().in_transaction([](sql::transaction& tx) { return tx.exec("SELEKT 1").status(); });
  EXPECT_EQ(bad.code(), status_code::invalid_argument) << bad.to_string();
  EXPECT_NE(bad.to_string().find("SELEKT"), std::string::npos) << bad.to_string();
}

TEST_P(Sql, CommitRunsHooksAndWakesWaiters) {
  auto other = open_again();  // the waiter: another pool (another process would do the same on PostgreSQL)
  ASSERT_NE(other, nullptr);
  other->wait_for_commit(1ms);  // starts listening; takes any earlier signal
  while (other->wait_for_commit(200ms)) {
  }
  int hooks = 0;
  {
    auto tx = db().begin();
    tx.value()->on_commit([&] { ++hooks; });
    ASSERT_TRUE(tx.value()->commit().is_ok());  // no signal(): nobody is woken
  }
  EXPECT_EQ(hooks, 1);
  EXPECT_FALSE(other->wait_for_commit(300ms));
  std::thread committer([&] {
    std::this_thread::sleep_for(100ms);
    auto tx = db().begin();
    ASSERT_TRUE(tx.value()->signal().is_ok());
    tx.value()->on_commit([&] { ++hooks; });
    tx.value()->rollback();  // rolled back: no hook, no signal
    auto tx2 = db().begin();
    ASSERT_TRUE(tx2.value()->signal().is_ok());
    ASSERT_TRUE(tx2.value()->commit().is_ok());
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(other->wait_for_commit(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  committer.join();
  EXPECT_EQ(hooks, 1);
}

TEST_P(Sql, WritersAreSerialisedPerRow) {
  ASSERT_TRUE(db().in_transaction([](sql::transaction& tx) -> status {
                    FERRY_RETURN_IF_ERROR(tx.exec("CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)").status());
                    return tx.exec("INSERT INTO c VALUES (1, 0)").status();
                  })
                  .is_ok());
  const std::string lock = postgres() ? " FOR UPDATE" : "";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        status s = db().in_transaction([&](sql::transaction& tx) -> status {
          FERRY_ASSIGN_OR_RETURN(sql::rows r, tx.query("SELECT n FROM c WHERE id = 1" + lock));
          return tx.exec("UPDATE c SET n = $1 WHERE id = 1", {r[0].integer(0) + 1}).status();
        });
        if (!s.is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  auto tx = db().begin();
  EXPECT_EQ(tx.value()->query("SELECT n FROM c").value()[0].integer(0), 100);
}

FERRY_BOTH_DATABASES(Sql);

TEST(SqlOpen, RefusesWhatItCannotUse) {
  EXPECT_EQ(sql::open("mysql://x").status().code(), status_code::invalid_argument);
  EXPECT_FALSE(sql::open("sqlite:/nonexistent-dir/x.db").is_ok());
  EXPECT_EQ(sql::open("host=127.0.0.1 port=1 user=x connect_timeout=2").status().code(), status_code::unavailable);
  EXPECT_EQ(sql::open("postgres://%zz").status().code(), status_code::invalid_argument);
}

TEST(SqlOpen, PlaceholdersBecomeSqliteOnesOutsideQuotes) {
  EXPECT_EQ(sql::sqlite_placeholders("SELECT '$1', \"a$b\", $1, $12"), "SELECT '$1', \"a$b\", ?1, ?12");
}

}  // namespace
}  // namespace ferry
