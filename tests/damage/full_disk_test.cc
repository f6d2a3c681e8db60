// A full disk, for real: ferryd's store on a 3 MiB tmpfs. A publish whose message does not fit is
// answered with nats-server's "insufficient resources" (503, 10023), naming no server path, and
// is not kept: not counted, not readable, never delivered, not even after a SIGKILL. ferryd stays
// up, a purge gives the room back and the next publish gets the next sequence.
//
// Mounting a tmpfs needs root (CAP_SYS_ADMIN): without it the test is skipped and says so; the
// store-level fault tests (store_test, FileFault.*) cover the same rules without a mount.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* connect_json =
    R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1})";

class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_ + "/js";
    fs::create_directories(store_);
    if (::mount("tmpfs", store_.c_str(), "tmpfs", 0, "size=3m") != 0) {
      GTEST_SKIP() << "mounting a 3 MiB tmpfs needs root: " << std::strerror(errno);
    }
    mounted_ = true;
    start();
  }
  void TearDown() override {
    if (HasFailure()) ADD_FAILURE() << "ferryd log:\n" << slurp(dir_ + "/ferryd.log");
    c_.reset();
    if (mounted_) {
      (void)d_.stop();
      (void)::umount(store_.c_str());
    }
    fs::remove_all(dir_);
  }
  void start() {
    ASSERT_TRUE(d_.start({ferryd_path(), "-p", std::to_string(port_), "-js", "-sd", store_}, dir_ + "/ferryd.log"));
    ASSERT_TRUE(d_.wait_for_port(port_, 20s)) << slurp(dir_ + "/ferryd.log");
    c_ = std::make_unique<raw_client>();
    ASSERT_TRUE(c_->connect(port_));
    ASSERT_TRUE(c_->handshake(connect_json));
  }
  json api(const std::string& subject, const std::string& body = "") {
    const std::string reply = raw_request(*c_, subject, body, ++id_);
    EXPECT_FALSE(reply.empty()) << subject;
    return reply.empty() ? json::object() : json::parse(reply);
  }
  static std::string payload(int i) { return "m" + std::to_string(i) + "-" + std::string(16 << 10, 'x'); }
  // Publishes payload(first), payload(first + 1), ... until one is refused; returns how many
  // were acknowledged and the refusal.
  std::pair<int, json> fill(int first) {
    for (int i = first; i < first + 1000; ++i) {
      json ack = api("ORDERS.m", payload(i));
      if (ack.contains("error")) return {i - first, ack};
      EXPECT_EQ(ack.value("seq", 0), i) << ack.dump();
    }
    ADD_FAILURE() << "3 MiB never filled up";
    return {1000, json::object()};
  }
  json info() { return api("$JS.API.STREAM.INFO.ORDERS"); }
  static void expect_insufficient_resources(const json& ack) {
    ASSERT_TRUE(ack.contains("error")) << ack.dump();
    EXPECT_EQ(ack["error"].value("code", 0), 503) << ack.dump();
    EXPECT_EQ(ack["error"].value("err_code", 0), 10023) << ack.dump();
    EXPECT_EQ(ack["error"].value("description", ""), "insufficient resources") << ack.dump();
  }

  child_process d_;
  int port_ = free_port();
  std::string dir_ = make_temp_dir("ferry-fulldisk-");
  std::string store_;
  bool mounted_ = false;
  std::unique_ptr<raw_client> c_;
  int id_ = 0;
};

TEST_F(FullDisk, RefusedPublishIsNotKeptAndAPurgeMakesRoom) {
  auto r = api("$JS.API.STREAM.CREATE.ORDERS",
               json{{"name", "ORDERS"}, {"subjects", {"ORDERS.>"}}, {"storage", "file"}}.dump());
  ASSERT_FALSE(r.contains("error")) << r.dump();

  auto [acked, refusal] = fill(1);
  ASSERT_GT(acked, 20);
  expect_insufficient_resources(refusal);
  // Refused means refused: not counted, not readable, the sequence not taken.
  json st = info()["state"];
  EXPECT_EQ(st.value("messages", 0), acked);
  EXPECT_EQ(st.value("last_seq", 0), acked);
  json get = api("$JS.API.STREAM.MSG.GET.ORDERS", json{{"seq", acked + 1}}.dump());
  EXPECT_EQ(get["error"].value("err_code", 0), 10037) << get.dump();
  // Still full, still up, still refusing the same way.
  expect_insufficient_resources(api("ORDERS.m", payload(acked + 1)));
  ASSERT_TRUE(c_->send("PING\r\n"));
  EXPECT_TRUE(c_->read_until("PONG", 5s));

  // kill -9 while full: what comes back is exactly what was acknowledged.
  d_.kill();
  start();
  st = info()["state"];
  EXPECT_EQ(st.value("messages", 0), acked);
  EXPECT_EQ(st.value("last_seq", 0), acked);
  get = api("$JS.API.STREAM.MSG.GET.ORDERS", json{{"seq", acked}}.dump());
  EXPECT_FALSE(get.contains("error")) << get.dump();
  get = api("$JS.API.STREAM.MSG.GET.ORDERS", json{{"seq", acked + 1}}.dump());
  EXPECT_EQ(get["error"].value("err_code", 0), 10037) << get.dump();

  // The purge frees the disk; sequences go on from where they were.
  json purged = api("$JS.API.STREAM.PURGE.ORDERS");
  ASSERT_TRUE(purged.value("success", false)) << purged.dump();
  EXPECT_EQ(purged.value("purged", 0), acked);
  json ack = api("ORDERS.m", "after the purge");
  ASSERT_FALSE(ack.contains("error")) << ack.dump();
  EXPECT_EQ(ack.value("seq", 0), acked + 1);
  auto [again, refusal2] = fill(acked + 2);
  EXPECT_GT(again, 20) << "the purge gave the room back";
  expect_insufficient_resources(refusal2);
  EXPECT_EQ(info()["state"].value("last_seq", 0), acked + 1 + again);
}

// A durable consumer's acknowledgement is confirmed only once its ack log record is written: on a
// full disk the confirmation waits (the client sees no confirmation, not a false one), and goes
// out once there is room again; the acknowledgements then survive a SIGKILL.
TEST_F(FullDisk, AckConfirmationsWaitForTheAckLog) {
  auto r = api("$JS.API.STREAM.CREATE.ORDERS",
               json{{"name", "ORDERS"}, {"subjects", {"ORDERS.>"}}, {"storage", "file"}}.dump());
  ASSERT_FALSE(r.contains("error")) << r.dump();
  r = api("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.C",
          json{{"stream_name", "ORDERS"}, {"config", {{"durable_name", "C"}, {"ack_policy", "explicit"}}}}.dump());
  ASSERT_FALSE(r.contains("error")) << r.dump();
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(api("ORDERS.m", "small-" + std::to_string(i)).value("seq", 0), i);
  std::vector<std::string> acks;
  ASSERT_EQ(raw_pull(*c_, "ORDERS", "C", ++id_, &acks).size(), 5u);
  ASSERT_EQ(acks.size(), 5u);
  // Fill the disk to the last page: the store first, then a file of ours.
  (void)fill(6);
  const std::string filler = store_ + "/filler";
  {
    std::FILE* f = std::fopen(filler.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string page(4096, 'f');
    while (std::fwrite(page.data(), 1, page.size(), f) == page.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }

  ASSERT_TRUE(send_acks(*c_, acks));
  EXPECT_FALSE(c_->read_until("MSG _INBOX.acks 88", 1500ms)) << "confirmed although the ack log could not be written";
  EXPECT_NE(slurp(dir_ + "/ferryd.log").find("writing the ack log failed"), std::string::npos);

  fs::remove(filler);  // room again: the next round (or the once-a-second tick) writes and confirms
  ASSERT_TRUE(wait_confirmations(*c_, 5));
  d_.kill();
  start();
  json info = api("$JS.API.CONSUMER.INFO.ORDERS.C");
  EXPECT_EQ(info["ack_floor"].value("stream_seq", 0), 5) << info.dump();
  EXPECT_EQ(info.value("num_ack_pending", -1), 0) << info.dump();
}

}  // namespace
}  // namespace ferry::test
