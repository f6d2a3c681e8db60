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
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    auto s = inventory_store::open(dir_ + "/inventory.db", {{"book", 10}, {"gold", 1}});
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  sku_stock stock(const std::string& sku) {
    auto s = store_->stats();
    EXPECT_TRUE(s.is_ok());
    EXPECT_TRUE(s->consistent());
    return s->stock[sku];
  }
  std::string dir_;
  std::unique_ptr<inventory_store> store_;
};

TEST_F(InventoryStoreTest, ReservingTwiceTakesStockOnce) {
  auto first = store_->reserve("o1", {{"book", 2}, {"book", 1}});
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->state, reservation_state::reserved);
  EXPECT_FALSE(first->existed);
  auto again = store_->reserve("o1", {{"book", 3}});
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->existed);
  EXPECT_EQ(again->state, reservation_state::reserved);
  EXPECT_EQ(stock("book").available, 7);
  EXPECT_EQ(stock("book").held, 3);
}

TEST_F(InventoryStoreTest, ConfirmAndReleaseAreIdempotent) {
  ASSERT_TRUE(store_->reserve("ok", {{"book", 2}}).is_ok());
  ASSERT_TRUE(store_->reserve("declined", {{"book", 3}}).is_ok());
  EXPECT_EQ(store_->confirm("ok", "pay-ok").value(), reservation_state::confirmed);
  EXPECT_EQ(store_->confirm("ok", "pay-ok").value(), reservation_state::confirmed);
  EXPECT_EQ(store_->release("declined").value(), reservation_state::released);
  EXPECT_EQ(store_->release("declined").value(), reservation_state::released);
  EXPECT_EQ(store_->release("ok").value(), reservation_state::confirmed);  // too late to release
  const sku_stock b = stock("book");
  EXPECT_EQ(b.available, 8);
  EXPECT_EQ(b.confirmed, 2);
  EXPECT_EQ(b.held, 0);
  auto r = store_->reserve("ok", {{"book", 2}});
  EXPECT_EQ(r->payment_id, "pay-ok");
  EXPECT_FALSE(store_->confirm("unknown", "x").is_ok());
}

TEST_F(InventoryStoreTest, OutOfStockTakesNothing) {
  auto r = store_->reserve("o1", {{"book", 1}, {"gold", 2}});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->state, reservation_state::rejected);
  EXPECT_EQ(store_->reserve("o2", {{"unknown-sku", 1}})->state, reservation_state::rejected);
  EXPECT_EQ(stock("book").available, 10);
  EXPECT_EQ(stock("gold").available, 1);
}

TEST_F(InventoryStoreTest, StateAndCountersSurviveReopening) {
  ASSERT_TRUE(store_->reserve("o1", {{"gold", 1}}).is_ok());
  ASSERT_TRUE(store_->count("duplicates_suppressed").is_ok());
  ASSERT_TRUE(store_->count("duplicates_suppressed", 2).is_ok());
  reopen();  // the initial stock is not applied again
  EXPECT_EQ(stock("gold").available, 0);
  EXPECT_EQ(store_->reserve("o1", {{"gold", 1}})->state, reservation_state::reserved);
  EXPECT_EQ(store_->stats()->counters["duplicates_suppressed"], 3);
}

}  // namespace
}  // namespace shop
