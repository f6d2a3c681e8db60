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

}  // namespace
}  // namespace ferry
