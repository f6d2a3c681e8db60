// The public embedding API (include/ferry/broker.h): start on a free port with JetStream and
// monitoring, serve a client, stop; a configuration file is read and the options override it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include "ferry/broker.h"
#include "process.h"
#include "raw_client.h"

namespace ferry {
namespace {

TEST(EmbeddedBroker, ServesClientsWithJetStreamAndMonitoring) {
  const std::string dir = test::make_temp_dir("ferry-embedded");
  auto b = embedded_broker::start({.http_port = -1, .jetstream = true, .store_dir = dir + "/js"});
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_GT((*b)->port(), 0);
  EXPECT_GT((*b)->http_port(), 0);
  EXPECT_EQ((*b)->client_url(), "nats://127.0.0.1:" + std::to_string((*b)->port()));
  test::raw_client c;
  ASSERT_TRUE(c.connect((*b)->port()));
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("SUB _INBOX.x 1\r\nPUB $JS.API.INFO _INBOX.x 0\r\n\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_NE(c.take().find("io.nats.jetstream.api.v1.account_info_response"), std::string::npos) << "JetStream answers";
  httplib::Client http("127.0.0.1", (*b)->http_port());
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  (*b)->shutdown();
  EXPECT_TRUE(c.wait_closed());
  (*b)->shutdown();  // idempotent
  std::filesystem::remove_all(dir);
}

TEST(EmbeddedBroker, ReadsAConfigurationFileAndRefusesABadOne) {
  const std::string dir = test::make_temp_dir("ferry-embedded-conf");
  std::ofstream(dir + "/ok.conf") << "max_payload: 2048\nport: 4999\n";
  auto b = embedded_broker::start({.config_file = dir + "/ok.conf", .port = 0});  // the option overrides the file
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_NE((*b)->port(), 4999) << "port = 0 given: a free port, not the file's";
  test::raw_client c;
  ASSERT_TRUE(c.connect((*b)->port()));
  EXPECT_NE(c.info().find("\"max_payload\":2048"), std::string::npos) << "the file's setting is in INFO: " << c.info();
  std::ofstream(dir + "/bad.conf") << "max_payload: {{{\n";
  EXPECT_EQ(embedded_broker::start({.config_file = dir + "/bad.conf"}).status().code(), status_code::invalid_argument);
  EXPECT_FALSE(embedded_broker::start({.config_file = dir + "/missing.conf"}).is_ok());
  std::filesystem::remove_all(dir);
}

// Output sent from outside the workers (publish acknowledgements from the sync thread, with sync
// always) reaches a client that sends nothing more: bursts of publishes are answered in full
// without the client's next PING. (A flush marked arranged while a writer was at work stayed
// marked with none coming, and later acknowledgements waited for the client's next traffic; nats.c
// publishers gave up after 200 ms.)
TEST(EmbeddedBroker, AcknowledgementsFromTheSyncThreadReachAQuietClient) {
  using namespace std::chrono_literals;
  const std::string dir = test::make_temp_dir("ferry-embedded-sync");
  auto b = embedded_broker::start({.http_port = 0, .jetstream = true, .store_dir = dir + "/js", .sync_always = true});
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  test::raw_client c;
  ASSERT_TRUE(c.connect((*b)->port()));
  ASSERT_TRUE(c.handshake());
  const std::string created =
      test::raw_request(c, "$JS.API.STREAM.CREATE.S", R"({"name":"S","subjects":["s"],"storage":"file"})", 1);
  ASSERT_EQ(created.find("error"), std::string::npos) << created;
  ASSERT_TRUE(c.send("SUB _INBOX.acks 7\r\n"));
  // Each burst is sent in small writes while acknowledgements of its first part come back, so
  // that the sync thread sends while the worker writes to the same client.
  int seq = 0;
  for (int burst = 1; burst <= 50; ++burst) {
    std::string pubs;
    for (int i = 0; i < 20; ++i) pubs += "PUB s _INBOX.acks 1\r\nx\r\n";
    for (int part = 0; part < 100; ++part) ASSERT_TRUE(c.send(pubs));
    seq += 2000;
    ASSERT_TRUE(c.read_until("\"seq\":" + std::to_string(seq) + "}", 10s))
        << "burst " << burst << ": the acknowledgements stopped short of " << seq;
    c.take();
  }
  (*b)->shutdown();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
