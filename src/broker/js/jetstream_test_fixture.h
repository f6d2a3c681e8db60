// The fixture of JetStream's unit tests (jetstream_test.cc, jetstream_disk_test.cc): a jetstream
// on a fake host with a fake clock, and the API calls, publishes, pulls and acks the tests make.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "broker/js/fake_host.h"
#include "broker/js/jetstream.h"
#include "process.h"
#include "protocol/ack_subject.h"
#include "store/fault_fs.h"

namespace ferry::broker::js::unit {

using json = nlohmann::json;
using testing::fake_clock;
using testing::fake_host;
using testing::sent_message;

inline constexpr std::int64_t ms = 1'000'000;
inline constexpr std::int64_t s = 1000 * ms;

json pull_consumer(const std::string& name, json extra = json::object());

class JetStreamUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("js-unit");
    host_.listen("_INBOX.>");
    start();
  }
  void TearDown() override {
    js_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start() {
    jetstream_options o;
    o.store_dir = dir_;
    o.time = &clock_;
    o.timer_thread = false;
    o.sync = sync_;
    o.fs = fs_;
    js_ = std::make_unique<jetstream>(host_, o);
    ASSERT_TRUE(js_->start().is_ok());
  }
  void restart() {
    js_.reset();
    start();
  }

  // An API request; the JSON reply (null if there was none, or more than one).
  json api(const std::string& subject, const json& body = json::object()) { return api_text(subject, body.dump()); }
  json api_text(const std::string& subject, const std::string& body) {
    const std::string inbox = "_INBOX.api." + std::to_string(++requests_);
    host_.client_publish("$JS.API." + subject, body, inbox);
    auto r = host_.take(inbox);
    if (r.size() != 1) return nullptr;
    return json::parse(r[0].data);
  }
  void create_stream(json cfg) {
    const std::string name = cfg["name"];
    const json r = api("STREAM.CREATE." + name, cfg);
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  void create_consumer(const std::string& stream, json cfg) {
    const json r = api("CONSUMER.DURABLE.CREATE." + stream + "." + cfg["durable_name"].get<std::string>(),
                       {{"stream_name", stream}, {"config", cfg}});
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }
  json consumer_info(const std::string& stream, const std::string& name) {
    return api_text("CONSUMER.INFO." + stream + "." + name, "");
  }
  // Publishes with a reply subject; the publish acknowledgement.
  json publish(const std::string& subject, const std::string& data, const std::string& headers = {}) {
    const std::string inbox = "_INBOX.pub." + std::to_string(++requests_);
    host_.client_publish(subject, data, inbox, headers);
    auto r = host_.take(inbox);
    if (r.size() != 1) return nullptr;
    return json::parse(r[0].data);
  }
  // Sends a pull request for `consumer` of stream S; returns the inbox its answers go to.
  std::string pull(const std::string& consumer, const json& request) {
    const std::string inbox = "_INBOX.pull." + std::to_string(++requests_);
    host_.client_publish("$JS.API.CONSUMER.MSG.NEXT.S." + consumer, request.dump(), inbox);
    return inbox;
  }
  // Messages (not statuses) delivered to `inbox` since the last look.
  std::vector<sent_message> messages(const std::string& inbox) {
    std::vector<sent_message> out;
    for (auto& m : host_.take(inbox)) {
      if (m.status_code() == 0) out.push_back(std::move(m));
    }
    return out;
  }
  // The status lines delivered to `inbox` since the last look ("408 Request Timeout").
  std::vector<std::string> statuses(const std::string& inbox) {
    std::vector<std::string> out;
    for (auto& m : host_.take(inbox)) {
      if (m.status_code() != 0) out.push_back(m.headers.substr(9, m.headers.find("\r\n") - 9));
    }
    return out;
  }
  static std::uint64_t deliveries(const sent_message& m) { return protocol::parse_ack_subject(m.reply)->deliveries; }
  static std::uint64_t stream_seq(const sent_message& m) { return protocol::parse_ack_subject(m.reply)->stream_seq; }
  void ack(const sent_message& m, const std::string& body = "+ACK") { host_.client_publish(m.reply, body); }
  // Moves both clocks on and runs the time-driven work.
  void advance(std::int64_t ns) {
    clock_.advance(ns);
    js_->tick();
  }
  void publish_n(int n) {
    for (int i = 1; i <= n; ++i) ASSERT_EQ(publish("s.x", "m" + std::to_string(i))["seq"], i);
  }

  // Waits up to 10 s for `n` messages to `to`: replies that the store's sync thread sends (with
  // sync: always a publish is acknowledged from there).
  std::vector<sent_message> wait_for(const std::string& to, std::size_t n = 1) {
    std::vector<sent_message> got;
    for (int i = 0; i < 1000 && got.size() < n; ++i) {
      for (auto& m : host_.take(to)) got.push_back(std::move(m));
      if (got.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return got;
  }

  // Starts again on a fault_fs with sync: always, with file stream S (s.>) and pull consumer C.
  std::shared_ptr<store::testing::fault_fs> start_on_faulty_disk() {
    js_.reset();
    auto faults = std::make_shared<store::testing::fault_fs>();
    fs_ = faults;
    sync_ = store::sync_policy::always;
    start();
    create_stream({{"name", "S"}, {"subjects", {"s.>"}}, {"storage", "file"}});
    create_consumer("S", pull_consumer("C"));
    return faults;
  }
  // publish() under sync: always: the answer comes from the sync thread.
  json publish_synced(const std::string& subject, const std::string& data) {
    const std::string inbox = "_INBOX.pub." + std::to_string(++requests_);
    host_.client_publish(subject, data, inbox);
    const auto reply = wait_for(inbox);
    return reply.size() == 1 ? json::parse(reply[0].data) : json();
  }

  std::string dir_;
  store::sync_policy sync_ = store::sync_policy::interval;
  std::shared_ptr<store::file_system> fs_;  // null: the real one
  fake_clock clock_;
  fake_host host_;
  std::unique_ptr<jetstream> js_;
  int requests_ = 0;
};

inline json pull_consumer(const std::string& name, json extra) {
  json c = {{"durable_name", name}, {"ack_policy", "explicit"}, {"ack_wait", 30 * s}};
  c.update(extra);
  return c;
}

}  // namespace ferry::broker::js::unit
