// What clients are told when the store fails: nats-server's codes, and no server paths.
#include "broker/js/errors.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ferry::broker::js {
namespace {

TEST(JsErrors, AFullDiskIsInsufficientResources) {
  for (const int err : {ENOSPC, EDQUOT}) {
    const status s = errno_status("write /var/lib/ferry/js/streams/ORDERS/msgs/00000000000000000001.seg", err);
    EXPECT_TRUE(is_disk_full(s));
    const api_error e = errors::store_failure(s.with_context("opening file store /var/lib/x"));
    EXPECT_EQ(e.code, 503);
    EXPECT_EQ(e.err_code, 10023);
    EXPECT_EQ(e.description, "insufficient resources");
  }
}

TEST(JsErrors, OurOwnLimitsAreNotADiskFull) {
  const status s = resource_exhausted("maximum messages exceeded");
  EXPECT_FALSE(is_disk_full(s));
  const api_error e = errors::store_failure(s);
  EXPECT_EQ(e.err_code, 10077);
  EXPECT_EQ(e.description, "maximum messages exceeded");
}

TEST(JsErrors, OtherStoreFailuresNameTheFileButNotWhereItLives) {
  const api_error e = errors::store_failure(errno_status("write /srv/data/js/ORDERS/msgs/0001.seg", EIO));
  EXPECT_EQ(e.code, 503);
  EXPECT_EQ(e.err_code, 10077);
  EXPECT_EQ(e.description, "write 0001.seg: Input/output error");
  EXPECT_EQ(errors::without_paths("message 7 is damaged in /a/b/c.seg"), "message 7 is damaged in c.seg");
  EXPECT_EQ(errors::without_paths("rename /a/b.tmp: x, /c/d: y"), "rename b.tmp: x, d: y");
  EXPECT_EQ(errors::without_paths("no paths here, a/b stays"), "no paths here, a/b stays");
  EXPECT_EQ(errors::without_paths("/"), "");
}

}  // namespace
}  // namespace ferry::broker::js
