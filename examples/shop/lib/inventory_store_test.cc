// inventory_store: reservations are idempotent per order, compensation gives the stock back,
// and the invariant holds.
#include "inventory_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace shop {
namespace {

class InventoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "shop_inventory_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    db_.reset();
    auto d = ferry::sql::open_sqlite(dir_ + "/inventory.db");
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    db_ = std::move(d).value();
    auto s = inventory_store::open(*db_, {{"book", 10}, {"gold", 1}});
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  // Each operation in a transaction of its own, committed when it succeeded.
  template <class F>
  auto in_tx(F f) -> decltype(f(std::declval<ferry::sql::transaction&>())) {
    auto tx = db_->begin();
    EXPECT_TRUE(tx.is_ok());
    auto r = f(*tx.value());
    if (r.is_ok()) {
      EXPECT_TRUE(tx.value()->commit().is_ok());
    }
    return r;
  }
  ferry::result<reservation> reserve(const std::string& id, const std::vector<line_item>& items) {
    return in_tx([&](ferry::sql::transaction& tx) { return store_->reserve(tx, id, items); });
  }
  ferry::result<std::string> confirm(const std::string& id, const std::string& payment) {
    return in_tx([&](ferry::sql::transaction& tx) { return store_->confirm(tx, id, payment); });
  }
  ferry::result<std::string> release(const std::string& id) {
    return in_tx([&](ferry::sql::transaction& tx) { return store_->release(tx, id); });
  }
  ferry::status count(std::string_view name, std::int64_t delta = 1) {
    auto tx = db_->begin();
    FERRY_RETURN_IF_ERROR(inventory_store::count(*tx.value(), name, delta));
    return tx.value()->commit();
  }
  sku_stock stock(const std::string& sku) {
    auto s = store_->stats();
    EXPECT_TRUE(s.is_ok());
    EXPECT_TRUE(s->consistent());
    return s->stock[sku];
  }
  std::string dir_;
  std::unique_ptr<ferry::sql::database> db_;
  std::unique_ptr<inventory_store> store_;
};

TEST_F(InventoryStoreTest, ReservingTwiceTakesStockOnce) {
  auto first = reserve("o1", {{"book", 2}, {"book", 1}});
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->state, reservation_state::reserved);
  EXPECT_FALSE(first->existed);
  auto again = reserve("o1", {{"book", 3}});
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->existed);
  EXPECT_EQ(again->state, reservation_state::reserved);
  EXPECT_EQ(stock("book").available, 7);
  EXPECT_EQ(stock("book").held, 3);
}

TEST_F(InventoryStoreTest, ConfirmAndReleaseAreIdempotent) {
  ASSERT_TRUE(reserve("ok", {{"book", 2}}).is_ok());
  ASSERT_TRUE(reserve("declined", {{"book", 3}}).is_ok());
  EXPECT_EQ(confirm("ok", "pay-ok").value(), reservation_state::confirmed);
  EXPECT_EQ(confirm("ok", "pay-ok").value(), reservation_state::confirmed);
  EXPECT_EQ(release("declined").value(), reservation_state::released);
  EXPECT_EQ(release("declined").value(), reservation_state::released);
  EXPECT_EQ(release("ok").value(), reservation_state::confirmed);  // too late to release
  const sku_stock b = stock("book");
  EXPECT_EQ(b.available, 8);
  EXPECT_EQ(b.confirmed, 2);
  EXPECT_EQ(b.held, 0);
  auto r = reserve("ok", {{"book", 2}});
  EXPECT_EQ(r->payment_id, "pay-ok");
  EXPECT_FALSE(confirm("unknown", "x").is_ok());
}

TEST_F(InventoryStoreTest, OutOfStockTakesNothing) {
  auto r = reserve("o1", {{"book", 1}, {"gold", 2}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->state, reservation_state::rejected);
  EXPECT_EQ(reserve("o2", {{"unknown-sku", 1}})->state, reservation_state::rejected);
  EXPECT_EQ(stock("book").available, 10);
  EXPECT_EQ(stock("gold").available, 1);
}

TEST_F(InventoryStoreTest, ARolledBackStepTakesNothing) {
  {
    auto tx = db_->begin();
    ASSERT_TRUE(store_->reserve(*tx.value(), "o1", {{"book", 4}}).is_ok());
    tx.value()->rollback();  // the saga step's transaction failed later on
  }
  EXPECT_EQ(stock("book").available, 10);
  EXPECT_FALSE(reserve("o1", {{"book", 4}})->existed);
  EXPECT_EQ(stock("book").available, 6);
}

TEST_F(InventoryStoreTest, StateAndCountersSurviveReopening) {
  ASSERT_TRUE(reserve("o1", {{"gold", 1}}).is_ok());
  ASSERT_TRUE(count("duplicates_suppressed").is_ok());
  ASSERT_TRUE(count("duplicates_suppressed", 2).is_ok());
  reopen();  // the initial stock is not applied again
  EXPECT_EQ(stock("gold").available, 0);
  EXPECT_EQ(reserve("o1", {{"gold", 1}})->state, reservation_state::reserved);
  EXPECT_EQ(store_->stats()->counters["duplicates_suppressed"], 3);
}

}  // namespace
}  // namespace shop
