// What the SDK conformance suite cannot arrange on JetStream: a stream that no server answers for
// during a publish (its leader is being elected, or a restarting server has not loaded it yet).
// nats.c then gets "no responders"; the transport publishes again until publish_timeout, so a
// short gap is ridden out and a long one is reported. The gap is made by deleting the stream
// through the JetStream API (nats.c requests) and creating it again. Against Debian's nats-server
// -js, started here on a free port in a temporary directory.
#include "ferry/jetstream.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "raw_client.h"

namespace ferry::jetstream {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

class server {
 public:
  server() : port_(test::free_port()) {
    if (!test::have_program("nats-server")) return;
    const std::string dir = test::make_temp_dir("ferry-jetstream-test-");
    up_ = proc_.start({"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port_), "-js", "-sd", dir},
                      dir + "/nats-server.log") &&
          proc_.wait_for_port(port_, 20s);
  }
  ~server() { proc_.stop(2s); }
  [[nodiscard]] bool up() const { return up_; }
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  test::child_process proc_;
  bool up_ = false;
};

server& the_server() {
  static server s;
  return s;
}

// One request to the JetStream API through nats.c; the reply's text ("" when none came).
std::string js_api(const std::string& subject, const std::string& body) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, the_server().url().c_str()) != NATS_OK) return "";
  natsMsg* reply = nullptr;
  std::string out;
  if (natsConnection_RequestString(&reply, nc, subject.c_str(), body.c_str(), 5000) == NATS_OK) {
    out.assign(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
  }
  natsConnection_Destroy(nc);
  return out;
}

const std::string stream = "GAP";
const std::string create_body = R"({"name":"GAP","subjects":["gap.>"],"storage":"file","num_replicas":1})";

bool delete_stream() {
  return js_api("$JS.API.STREAM.DELETE." + stream, "").find("\"success\":true") != std::string::npos;
}
bool create_stream() {
  const std::string reply = js_api("$JS.API.STREAM.CREATE." + stream, create_body);
  return !reply.empty() && reply.find("\"error\"") == std::string::npos;
}
// How many messages the stream holds (-1 when it does not answer).
int stored() {
  const std::string info = js_api("$JS.API.STREAM.INFO." + stream, "");
  const auto at = info.find("\"messages\":");
  return at == std::string::npos ? -1 : std::atoi(info.c_str() + at + 11);
}

class JetStreamGap : public testing::Test {
 protected:
  void SetUp() override {
    if (!the_server().up()) GTEST_SKIP() << "nats-server -js did not start (is it installed?)";
    auto t = connect(the_server().url(), {.streams = {{.name = stream, .subjects = {"gap.>"}}}, .publish_timeout = 3s});
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    t_ = std::move(*t);
  }
  void TearDown() override {
    if (t_) t_->close();
  }
  // Deletes the stream now and creates it again after `gap` (on another thread, joined by the
  // caller through the returned thread).
  static std::thread gap_of(std::chrono::milliseconds gap) {
    EXPECT_TRUE(delete_stream());
    EXPECT_EQ(stored(), -1);
    return std::thread([gap] {
      std::this_thread::sleep_for(gap);
      EXPECT_TRUE(create_stream());
    });
  }
  std::unique_ptr<transport> t_;
};

TEST_F(JetStreamGap, APublishWaitsOutAShortGapAndIsStoredOnce) {
  std::thread back = gap_of(600ms);
  const auto start = clock::now();
  const status s = t_->publish(message("gap.one", "x"));
  const auto took = clock::now() - start;
  back.join();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_GE(took, 500ms);  // it did wait for the stream
  EXPECT_EQ(stored(), 1);
}

TEST_F(JetStreamGap, ABatchWaitsOutAShortGapAndEachIsStoredOnce) {
  std::thread back = gap_of(600ms);
  std::vector<message> batch;
  for (int i = 0; i < 10; ++i) batch.emplace_back("gap.batch", std::to_string(i));
  const status s = t_->publish(std::move(batch));
  back.join();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(stored(), 10);
}

TEST_F(JetStreamGap, AGapLongerThanPublishTimeoutIsUnavailableAfterIt) {
  std::thread back = gap_of(5s);
  const auto start = clock::now();
  const status s = t_->publish(message("gap.late", "x"));
  const auto took = clock::now() - start;
  back.join();
  EXPECT_EQ(s.code(), status_code::unavailable) << s.to_string();
  EXPECT_NE(s.message().find("No responders"), std::string::npos) << s.to_string();
  EXPECT_GE(took, 2500ms);  // publish_timeout is 3 s: retried until then
  EXPECT_LT(took, 4500ms);
}

}  // namespace
}  // namespace ferry::jetstream
