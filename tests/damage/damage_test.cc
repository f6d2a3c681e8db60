// Damage that must not stop service: ferryd (a real process, file store) after an operator's bad
// day. A record damaged while it runs is skipped by consumers, not everything after it; a
// segment cut short never makes sequences go backwards; a damaged stream is set aside while the
// rest starts; lost or damaged consumer state is reported. Each is logged and listed in /jsz
// ("problems").
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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

class Damage : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override {
    if (HasFailure()) ADD_FAILURE() << "ferryd log:\n" << slurp(dir_ + "/ferryd.log");
    stop();
    fs::remove_all(dir_);
  }
  void start() {
    ASSERT_TRUE(
        d_.start({ferryd_path(), "-p", std::to_string(port_), "-m", std::to_string(http_), "-js", "-sd", dir_ + "/js"},
                 dir_ + "/ferryd.log"));
    ASSERT_TRUE(d_.wait_for_port(port_, 20s)) << slurp(dir_ + "/ferryd.log");
    c_ = std::make_unique<raw_client>();
    ASSERT_TRUE(c_->connect(port_));
    ASSERT_TRUE(c_->handshake(connect_json));
  }
  void stop() {
    c_.reset();
    EXPECT_EQ(d_.stop(), 0) << "a clean shutdown";
  }
  json api(const std::string& subject, const std::string& body = "") {
    const std::string reply = raw_request(*c_, subject, body, ++id_);
    EXPECT_FALSE(reply.empty()) << subject;
    return reply.empty() ? json::object() : json::parse(reply);
  }
  void add_stream(const std::string& name) {
    auto r = api("$JS.API.STREAM.CREATE." + name,
                 json{{"name", name}, {"subjects", {name + ".>"}}, {"storage", "file"}}.dump());
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  // Publishes "<name>-NN" for n = 1..count and checks each PubAck.
  void publish(const std::string& stream, int from, int to) {
    for (int i = from; i <= to; ++i) {
      char payload[32];
      std::snprintf(payload, sizeof payload, "%s-%02d", stream.c_str(), i);
      auto ack = api(stream + ".m", payload);
      ASSERT_EQ(ack.value("seq", 0), i) << ack.dump();
    }
  }
  void add_consumer(const std::string& stream, const std::string& name, const std::string& ack = "none") {
    auto r = api("$JS.API.CONSUMER.DURABLE.CREATE." + stream + "." + name,
                 json{{"stream_name", stream}, {"config", {{"durable_name", name}, {"ack_policy", ack}}}}.dump());
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  // Payloads of what one no-wait pull of up to 50 returns.
  std::vector<std::string> pull(const std::string& stream, const std::string& consumer) {
    return raw_pull(*c_, stream, consumer, ++id_, &replies_);
  }
  json jsz() {
    httplib::Client h("127.0.0.1", http_);
    auto r = h.Get("/jsz");
    EXPECT_TRUE(r);
    return r ? json::parse(r->body) : json::object();
  }
  // True when some entry of /jsz "problems" contains `what`.
  bool reported(const std::string& what) {
    for (const auto& p : jsz().value("problems", json::array())) {
      if (p.get<std::string>().find(what) != std::string::npos) return true;
    }
    return false;
  }
  std::string stream_dir(const std::string& name) const { return dir_ + "/js/streams/" + name; }
  // The one segment file of a stream.
  std::string segment(const std::string& name) const {
    for (const auto& e : fs::directory_iterator(stream_dir(name) + "/msgs")) {
      if (e.path().extension() == ".seg") return e.path().string();
    }
    return {};
  }
  // Offset of `needle` in the file at `path`.
  static std::size_t offset_of(const std::string& path, const std::string& needle) {
    const std::string text = slurp(path);
    const std::size_t at = text.find(needle);
    EXPECT_NE(at, std::string::npos) << needle << " in " << path;
    return at;
  }

  child_process d_;
  int port_ = free_port();
  int http_ = free_port();
  std::string dir_ = make_temp_dir("ferry-damage-");
  std::unique_ptr<raw_client> c_;
  int id_ = 0;
  std::vector<std::string> replies_;  // the ack subjects of every message pull() returned
};

// (c) nats-server skips only the damaged message; a consumer here used to take the read error
// for "nothing more" and jump to the end of the stream, skipping every intact message after it.
TEST_F(Damage, AMessageDamagedWhileRunningIsSkippedAloneAndReported) {
  add_stream("D");
  publish("D", 1, 10);
  add_consumer("D", "C");
  {
    const std::string seg = segment("D");
    const std::size_t at = offset_of(seg, "D-05");
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.put('X');  // the record's checksum no longer matches
  }
  EXPECT_EQ(pull("D", "C"),
            (std::vector<std::string>{"D-01", "D-02", "D-03", "D-04", "D-06", "D-07", "D-08", "D-09", "D-10"}));
  EXPECT_TRUE(reported("stream D consumer C: message 5 could not be read")) << jsz().dump(2);
  publish("D", 11, 11);
  EXPECT_EQ(pull("D", "C"), (std::vector<std::string>{"D-11"})) << "and new messages still flow";
}

// (a), (b): a segment cut short far before its end (after a clean shutdown) must not hand out
// sequences again that a consumer has already seen; the consumer carries on with new messages.
TEST_F(Damage, ACutSegmentNeverMakesSequencesGoBackwards) {
  add_stream("E");
  publish("E", 1, 20);
  add_consumer("E", "C");
  EXPECT_EQ(pull("E", "C").size(), 20u);
  stop();
  const std::string seg = segment("E");
  const std::size_t cut = offset_of(seg, "E-11") - 30;  // inside record 11, before its payload
  fs::resize_file(seg, cut);
  start();
  auto info = api("$JS.API.STREAM.INFO.E");
  EXPECT_EQ(info["state"]["last_seq"], 20) << info.dump();
  EXPECT_EQ(info["state"]["messages"], 10) << info.dump();
  auto ack = api("E.m", "E-21");
  EXPECT_EQ(ack.value("seq", 0), 21) << "never a reused sequence: " << ack.dump();
  EXPECT_EQ(pull("E", "C"), (std::vector<std::string>{"E-21"}));
  EXPECT_TRUE(reported("stream E: recovered up to sequence 10 but consumer C had seen 20; messages 11..20 are lost"))
      << jsz().dump(2);
  // And it holds across another restart.
  stop();
  start();
  EXPECT_EQ(api("E.m", "E-22").value("seq", 0), 22);
}

// A consumer told to start at a sequence the stream has not reached has seen nothing: a restart
// must not move the stream's sequences to it.
TEST_F(Damage, AConsumerStartingInTheFutureDoesNotMoveSequences) {
  add_stream("F");
  publish("F", 1, 5);
  auto r = api(
      "$JS.API.CONSUMER.DURABLE.CREATE.F.LATER",
      json{{"stream_name", "F"},
           {"config", {{"durable_name", "LATER"}, {"deliver_policy", "by_start_sequence"}, {"opt_start_seq", 1000}}}}
          .dump());
  ASSERT_FALSE(r.contains("error")) << r.dump();
  stop();
  start();
  EXPECT_EQ(api("F.m", "F-06").value("seq", 0), 6);
  EXPECT_FALSE(reported("stream F")) << jsz().dump(2);
}

// (e): one stream whose metadata is damaged no longer keeps the server from starting.
TEST_F(Damage, ADamagedStreamIsSetAsideAndTheRestStarts) {
  add_stream("A");
  add_stream("B");
  publish("A", 1, 3);
  publish("B", 1, 3);
  stop();
  std::ofstream(stream_dir("A") + "/meta.json") << "{\"config\": {\"name\": 42";
  start();
  EXPECT_EQ(api("$JS.API.STREAM.INFO.B")["state"]["messages"], 3);
  EXPECT_EQ(api("$JS.API.STREAM.INFO.A")["error"]["err_code"], 10059) << "stream not found";
  EXPECT_TRUE(fs::exists(stream_dir("A") + ".damaged/msgs")) << "kept for the operator";
  EXPECT_TRUE(reported("streams/A not recovered")) << jsz().dump(2);
  EXPECT_NE(slurp(dir_ + "/ferryd.log").find("moved aside to"), std::string::npos);
  add_stream("A");  // the name is free again
  publish("A", 1, 1);
}

// (d) and state of the wrong type: reported, never a silent reset or a crash at start.
TEST_F(Damage, LostOrDamagedConsumerStateIsReported) {
  add_stream("S");
  publish("S", 1, 5);
  add_consumer("S", "GONE");
  add_consumer("S", "BAD");
  add_consumer("S", "OLD");
  EXPECT_EQ(pull("S", "GONE").size(), 5u);
  EXPECT_EQ(pull("S", "BAD").size(), 5u);
  EXPECT_EQ(pull("S", "OLD").size(), 5u);
  stop();
  const std::string consumers = stream_dir("S") + "/consumers/";
  fs::remove(consumers + "GONE/state.rec");
  // One flipped byte in the checksummed snapshot.
  std::string rec = slurp(consumers + "BAD/state.rec");
  ASSERT_GT(rec.size(), 30u);
  rec[20] ^= 0x01;
  std::ofstream(consumers + "BAD/state.rec", std::ios::binary | std::ios::trunc) << rec;
  // The JSON file of earlier versions, still read when there is no state.rec: a wrong type.
  fs::remove(consumers + "OLD/state.rec");
  std::ofstream(consumers + "OLD/state.json") << R"({"next_sseq":"six","dseq":5})";
  start();
  EXPECT_TRUE(reported("stream S consumer GONE: saved state lost (state.rec is missing)")) << jsz().dump(2);
  EXPECT_TRUE(reported("stream S consumer BAD: saved state lost (state.rec is damaged")) << jsz().dump(2);
  EXPECT_TRUE(reported("stream S consumer OLD: saved state lost (state.json is damaged")) << jsz().dump(2);
  EXPECT_NE(slurp(dir_ + "/ferryd.log").find("consumer GONE: saved state lost"), std::string::npos);
  // All start over (redelivering, never skipping) and the stream serves on.
  EXPECT_EQ(pull("S", "GONE").size(), 5u);
  EXPECT_EQ(pull("S", "BAD").size(), 5u);
  EXPECT_EQ(pull("S", "OLD").size(), 5u);
  publish("S", 6, 6);
}

// After a SIGKILL, CONSUMER.INFO used to report delivered and the ack floor from the last state
// snapshot (0 right after the consumer was made), although delivery resumed at the right message:
// the ack log now carries each acknowledgement's consumer sequence.
TEST_F(Damage, ConsumerInfoAfterSigkillShowsEveryConfirmedAck) {
  add_stream("K");
  publish("K", 1, 30);
  add_consumer("K", "C", "explicit");
  ASSERT_EQ(pull("K", "C").size(), 30u);
  ASSERT_EQ(replies_.size(), 30u);
  // +ACK with a reply subject: the server confirms each once it is in the ack log.
  ASSERT_TRUE(send_acks(*c_, replies_));
  ASSERT_TRUE(wait_confirmations(*c_, 30));
  d_.kill();  // well within the one second between state snapshots
  c_.reset();
  start();
  auto info = api("$JS.API.CONSUMER.INFO.K.C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 30) << info.dump();
  EXPECT_EQ(info["ack_floor"]["consumer_seq"], 30) << info.dump();
  EXPECT_EQ(info["delivered"]["stream_seq"], 30) << info.dump();
  EXPECT_EQ(info["num_ack_pending"], 0) << info.dump();
  EXPECT_TRUE(pull("K", "C").empty()) << "no confirmed ack is delivered again";
  publish("K", 31, 31);
  EXPECT_EQ(pull("K", "C"), (std::vector<std::string>{"K-31"}));
}

// The ack log is checksummed records: a damaged one in the middle is skipped and reported (its
// message comes again: redelivery, never a loss), a torn last one is cut off quietly (it was
// never confirmed), and acknowledgements after either are kept.
TEST_F(Damage, DamagedAckLogRedeliversOnlyWhatWasDamaged) {
  add_stream("L");
  publish("L", 1, 20);
  add_consumer("L", "C", "explicit");
  ASSERT_EQ(pull("L", "C").size(), 20u);
  ASSERT_TRUE(send_acks(*c_, replies_));
  ASSERT_TRUE(wait_confirmations(*c_, 20));
  d_.kill();  // before the next snapshot: the 20 acknowledgements are in the log only
  c_.reset();
  const std::string log = stream_dir("L") + "/consumers/C/acks.log";
  std::string bytes = slurp(log);
  constexpr std::size_t record = 32;  // one ack record: 16 bytes of frame, 16 of body
  ASSERT_EQ(bytes.size(), 20 * record);
  bytes[9 * record + 14] ^= 0x40;  // inside the 10th acknowledgement (message 10)
  bytes.resize(bytes.size() - 5);  // and the 20th torn
  std::ofstream(log, std::ios::binary | std::ios::trunc) << bytes;
  start();
  EXPECT_TRUE(reported("stream L consumer C: 32 damaged bytes in acks.log skipped")) << jsz().dump(2);
  EXPECT_EQ(pull("L", "C"), (std::vector<std::string>{"L-10", "L-20"}));
  publish("L", 21, 21);
  EXPECT_EQ(pull("L", "C"), (std::vector<std::string>{"L-21"}));
}

// A purge or a message delete that was answered stays done after a SIGKILL: their records used to
// wait in the store's buffer for the next publish, and a killed ferryd brought the messages back.
TEST_F(Damage, AnsweredPurgesAndDeletesSurviveSigkill) {
  add_stream("P");
  publish("P", 1, 20);
  for (int i = 21; i <= 23; ++i) {
    auto ack = api("P.x", "x");
    ASSERT_EQ(ack.value("seq", 0), i) << ack.dump();
  }
  // A few tombstones (no rewrite of the segment), and a delete without erasing (no overwrite).
  auto purged = api("$JS.API.STREAM.PURGE.P", json{{"filter", "P.x"}}.dump());
  ASSERT_EQ(purged.value("purged", 0), 3) << purged.dump();
  d_.kill();
  c_.reset();
  start();
  EXPECT_EQ(api("$JS.API.STREAM.INFO.P")["state"]["messages"], 20) << "the purge held";
  auto deleted = api("$JS.API.STREAM.MSG.DELETE.P", json{{"seq", 18}, {"no_erase", true}}.dump());
  ASSERT_TRUE(deleted.value("success", false)) << deleted.dump();
  d_.kill();
  c_.reset();
  start();
  auto info = api("$JS.API.STREAM.INFO.P");
  EXPECT_EQ(info["state"]["messages"], 19) << info.dump();
  EXPECT_EQ(info["state"]["last_seq"], 23) << info.dump();
  for (const int seq : {18, 21, 22, 23}) {
    auto gone = api("$JS.API.STREAM.MSG.GET.P", json{{"seq", seq}}.dump());
    EXPECT_TRUE(gone.contains("error")) << seq << ": " << gone.dump();
  }
  auto ack = api("P.m", "after");
  EXPECT_EQ(ack.value("seq", 0), 24) << ack.dump();
}

}  // namespace
}  // namespace ferry::test
