#include "base/result.h"
#include "base/status.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Status, DefaultIsOk) {
  status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, CarriesCodeAndMessage) {
  status s = not_found("stream ORDERS");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), status_code::not_found);
  EXPECT_EQ(s.to_string(), "not_found: stream ORDERS");
  EXPECT_EQ(s.with_context("loading").message(), "loading: stream ORDERS");
}

result<int> half(int v) {
  if (v % 2) return invalid_argument("odd");
  return v / 2;
}

status quarter(int v, int& out) {
  FERRY_ASSIGN_OR_RETURN(int h, half(v));
  FERRY_ASSIGN_OR_RETURN(out, half(h));
  return status::ok();
}

TEST(Result, HoldsValueOrStatus) {
  auto r = half(8);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, 4);
  auto e = half(3);
  ASSERT_FALSE(e.is_ok());
  EXPECT_EQ(e.status().message(), "odd");
}

TEST(Result, AssignOrReturnPropagates) {
  int out = 0;
  EXPECT_TRUE(quarter(8, out).is_ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(quarter(6, out).code(), status_code::invalid_argument);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  auto e = half(3);
  EXPECT_DEATH((void)e.value(), "FERRY_CHECK failed");
}

}  // namespace
}  // namespace ferry
