// What the SDK conformance suite cannot arrange on JetStream:
// - a stream that no server answers for during a publish (its leader is being elected, or a
//   restarting server has not loaded it yet). nats.c then gets "no responders"; the transport
//   publishes again until publish_timeout, so a short gap is ridden out and a long one is
//   reported. The gap is made by deleting the stream through the JetStream API (nats.c requests)
//   and creating it again;
// - a server that answers no stream or consumer request for a while during connect or subscribe
//   (a cluster electing its leader after a node was lost): made by stopping the server with
//   SIGSTOP. Both ask again until setup_timeout;
// - a subscription's consumer that the server lost (deleted through the API) while a message was
//   still in a handler: the consumer made again starts at that message.
// Against Debian's nats-server -js, started here on a free port in a temporary directory.
#include "ferry/jetstream.h"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "raw_client.h"
#include "transport/jetstream/streams.h"

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
  [[nodiscard]] pid_t pid() const { return proc_.pid(); }

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

// Stops the server now (SIGSTOP: connections stay open, nothing is answered) and continues it
// after `pause`, on a thread the caller joins.
std::thread stop_for(std::chrono::milliseconds pause) {
  EXPECT_EQ(::kill(the_server().pid(), SIGSTOP), 0);
  return std::thread([pause] {
    std::this_thread::sleep_for(pause);
    EXPECT_EQ(::kill(the_server().pid(), SIGCONT), 0);
  });
}

// Each request waits 1 s (publish_timeout): a 2.5 s stop times out two or three of them.
result<std::unique_ptr<transport>> connect_impatient(std::chrono::milliseconds setup_timeout) {
  return connect(
      the_server().url(),
      {.streams = {{.name = stream, .subjects = {"gap.>"}}}, .publish_timeout = 1s, .setup_timeout = setup_timeout});
}

TEST_F(JetStreamGap, SubscribeWaitsOutAServerThatCannotAnswer) {
  auto t = connect_impatient(10s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  for (const std::string group : {"waiters", ""}) {
    SCOPED_TRACE("group '" + group + "'");
    const std::string subject = "gap.wait" + std::to_string(group.size());
    ASSERT_TRUE((*t)->publish(message(subject, "before")).is_ok());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> got;
    std::thread back = stop_for(2500ms);
    const auto start = clock::now();
    auto sub = (*t)->subscribe(subject, {.group = group}, [&](message m) {
      m.ack();
      std::lock_guard lock(mu);
      got.push_back(m.payload);
      cv.notify_all();
    });
    const auto took = clock::now() - start;
    back.join();
    ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
    EXPECT_GE(took, 2s);  // it was asking while the server was stopped
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return !got.empty(); }));
    EXPECT_EQ(got, std::vector<std::string>{"before"});
    lock.unlock();
    (*sub)->stop();
  }
  (*t)->close();
}

// connect()'s stream setup, on a connection made before the stop (connect() itself would first
// wait for the server's greeting): the stream is created once the server answers.
TEST_F(JetStreamGap, StreamSetupWaitsOutAServerThatCannotAnswer) {
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, the_server().url().c_str()), NATS_OK);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 1000;  // as the transport sets it for publish_timeout 1 s
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, nc, &jo), NATS_OK);
  const options o{.streams = {{.name = "WAITED", .subjects = {"waited.>"}}}, .setup_timeout = 10s};
  std::thread back = stop_for(2500ms);
  const auto start = clock::now();
  auto streams = detail::setup_streams(js, o);
  const auto took = clock::now() - start;
  back.join();
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  ASSERT_TRUE(streams.is_ok()) << streams.status().to_string();
  ASSERT_EQ(streams->size(), 1u);
  EXPECT_EQ((*streams)[0].name, "WAITED");
  EXPECT_EQ((*streams)[0].subjects, std::vector<std::string>{"waited.>"});
  EXPECT_GE(took, 2s);  // it was asking while the server was stopped
  EXPECT_NE(js_api("$JS.API.STREAM.INFO.WAITED", "").find(R"("name":"WAITED")"), std::string::npos);  // on the server
}

TEST_F(JetStreamGap, SubscribeGivesUpAfterSetupTimeoutAndSaysSo) {
  auto t = connect_impatient(2s);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  std::thread back = stop_for(4500ms);
  const auto start = clock::now();
  auto sub = (*t)->subscribe("gap.never", {.group = "late"}, [](message m) { m.ack(); });
  const auto took = clock::now() - start;
  back.join();
  ASSERT_FALSE(sub.is_ok());
  EXPECT_EQ(sub.status().code(), status_code::deadline_exceeded) << sub.status().to_string();
  EXPECT_NE(sub.status().message().find("setup_timeout"), std::string::npos) << sub.status().to_string();
  EXPECT_GE(took, 1900ms);
  EXPECT_LT(took, 3500ms);  // the last request began before the 2 s were up, and waits 1 s at most
  (*t)->close();
}

// The names of the stream's consumers ("" when none answered), as the API's JSON text.
std::string consumer_names() { return js_api("$JS.API.CONSUMER.NAMES." + stream, ""); }
std::vector<std::string> names_in(const std::string& reply) {
  std::vector<std::string> out;
  const auto list = reply.find("\"consumers\":[");
  if (list == std::string::npos) return out;
  for (std::size_t at = reply.find('"', list + 13); at != std::string::npos && at < reply.find(']', list);
       at = reply.find('"', reply.find('"', at + 1) + 1)) {
    out.push_back(reply.substr(at + 1, reply.find('"', at + 1) - at - 1));
  }
  return out;
}

// The server loses a subscription's consumer (a restart of ferryd, inactive_threshold passed
// during a long disconnect) while a message is still in a handler. The consumer made again starts
// at that message, not after the last one delivered: the handler's nack brings it back (before,
// it was never delivered again), and a message acknowledged meanwhile is not handled twice.
TEST_F(JetStreamGap, AConsumerMadeAgainStartsAtTheLowestUnacknowledgedMessage) {
  nats::options fast;
  fast.poll_interval = 100ms;  // a quiet fetch every 100 ms: the loss is noticed within about a second
  auto made =
      connect(the_server().url(),
              {.connection = fast, .streams = {{.name = stream, .subjects = {"gap.>"}}}, .publish_timeout = 3s});
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  std::unique_ptr<transport> t = std::move(*made);
  std::mutex mu;
  std::optional<message> held;
  std::vector<std::string> got;
  const std::vector<std::string> others = names_in(consumer_names());  // other tests' groups
  const auto ours = [&] {
    std::vector<std::string> mine;
    for (const auto& n : names_in(consumer_names())) {
      if (std::find(others.begin(), others.end(), n) == others.end()) mine.push_back(n);
    }
    return mine;
  };
  auto sub = t->subscribe("gap.lost", {}, [&](message m) {
    std::lock_guard lock(mu);
    got.push_back(m.payload);
    if (m.payload == "a" && !held) {
      held = std::move(m);  // still in its handler
    } else {
      m.ack();
    }
  });
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  ASSERT_TRUE(t->publish(message("gap.lost", "a")).is_ok());
  ASSERT_TRUE(t->publish(message("gap.lost", "b")).is_ok());
  const auto wait_for = [&](const std::function<bool()>& p) {
    for (auto end = clock::now() + 10s; clock::now() < end; std::this_thread::sleep_for(20ms)) {
      std::lock_guard lock(mu);
      if (p()) return true;
    }
    return false;
  };
  ASSERT_TRUE(wait_for([&] { return got.size() == 2; }));
  const std::vector<std::string> before = ours();
  ASSERT_EQ(before.size(), 1u) << consumer_names();
  ASSERT_NE(js_api("$JS.API.CONSUMER.DELETE." + stream + "." + before[0], "").find("\"success\":true"),
            std::string::npos);
  bool remade = false;
  for (auto end = clock::now() + 10s; clock::now() < end && !remade; std::this_thread::sleep_for(50ms)) {
    const auto now = ours();
    remade = now.size() == 1 && now[0] != before[0];
  }
  ASSERT_TRUE(remade) << "the subscription did not make its consumer again: " << consumer_names();
  {
    std::lock_guard lock(mu);
    held->nack();  // its redelivery comes from the new consumer
  }
  EXPECT_TRUE(wait_for([&] { return std::count(got.begin(), got.end(), "a") == 2; })) << "a was lost";
  std::this_thread::sleep_for(300ms);
  std::lock_guard lock(mu);
  EXPECT_EQ(std::count(got.begin(), got.end(), "b"), 1) << "b was acknowledged: not handled again";
  (void)(*sub).release();  // stopped with the transport
  t->close();
}

// A server without JetStream answers no JetStream request, as a server still starting does; it is
// not waited for: its "no responders" is not taken for an election.
TEST(JetStreamConnect, AServerWithoutJetStreamIsRefusedAtOnce) {
  ASSERT_TRUE(test::have_program("nats-server")) << "nats-server is not installed (make deps installs it)";
  const int port = test::free_port();
  test::child_process plain;
  ASSERT_TRUE(plain.start({"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port)}));
  ASSERT_TRUE(plain.wait_for_port(port, 20s));
  const auto start = clock::now();
  auto t = connect("nats://127.0.0.1:" + std::to_string(port), {.streams = {{.name = "S", .subjects = {"s.>"}}}});
  const auto took = clock::now() - start;
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), status_code::unavailable) << t.status().to_string();
  EXPECT_NE(t.status().message().find("10076"), std::string::npos) << t.status().to_string();  // not enabled
  EXPECT_LT(took, 3s) << t.status().to_string();
}

}  // namespace
}  // namespace ferry::jetstream
