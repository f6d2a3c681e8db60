// What clients are told when the store fails: nats-server's codes, and no server paths.
#include "broker/js/errors.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

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

// The client-visible table: every API error and status line JetStream sends is in errors.h, each
// error code once, and docs/protocol.md lists exactly these (so the docs cannot drift).
std::string protocol_doc() {
  std::ifstream f(std::string(FERRY_SOURCE_DIR) + "/docs/protocol.md");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(JsErrors, EveryApiErrorHasOneCodeAndIsDocumented) {
  const std::string doc = protocol_doc();
  ASSERT_FALSE(doc.empty());
  std::set<int> seen;
  std::string table, missing;
  for (const api_error& e : errors::all()) {
    EXPECT_TRUE(seen.insert(e.err_code).second) << "err_code " << e.err_code << " twice";
    EXPECT_TRUE(e.code == 400 || e.code == 404 || e.code == 500 || e.code == 503) << e.err_code << ": " << e.code;
    EXPECT_FALSE(e.description.empty()) << e.err_code;
    const std::string row =
        "| " + std::to_string(e.code) + " | " + std::to_string(e.err_code) + " | " + e.description + " |\n";
    table += row;
    if (doc.find(row) == std::string::npos) missing += row;
  }
  EXPECT_EQ(missing, "") << "not in docs/protocol.md; the whole table:\n" << table;
  EXPECT_GE(seen.size(), 60u);
}

TEST(JsErrors, EveryStatusLineIsDocumented) {
  const std::string doc = protocol_doc();
  std::string table, missing;
  std::set<std::string> seen;
  for (const status_line& s : statuses::all) {
    EXPECT_TRUE(seen.insert(std::to_string(s.code) + std::string(s.text)).second) << s.text;
    const std::string row = "| " + std::to_string(s.code) + " | " + std::string(s.text) + " |\n";
    table += row;
    if (doc.find(row) == std::string::npos) missing += row;
  }
  EXPECT_EQ(missing, "") << "not in docs/protocol.md; the whole table:\n" << table;
  EXPECT_EQ(statuses::request_timeout.headers({}, "Nats-Pending-Messages: 5\r\n"),
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\n\r\n");
  EXPECT_EQ(statuses::exceeded_max_batch.headers(" 10"), "NATS/1.0 409 Exceeded MaxRequestBatch of 10\r\n\r\n");
}

}  // namespace
}  // namespace ferry::broker::js
