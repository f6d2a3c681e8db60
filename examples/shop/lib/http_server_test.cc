// The shop's HTTP server refuses a port another server already listens on (no SO_REUSEPORT),
// so two copies of a service never split one port's requests between them.
#include "http_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

namespace shop {
namespace {

TEST(HttpServer, ATakenPortIsRefused) {
  ferry::metrics_registry registry;
  http_server first;
  first.serve_observability(registry, [] { return nlohmann::json{{"who", "first"}}; });
  auto port = first.start("127.0.0.1", 0);
  ASSERT_TRUE(port.is_ok()) << port.status().to_string();
  http_server second;
  second.serve_observability(registry, [] { return nlohmann::json{{"who", "second"}}; });
  auto taken = second.start("127.0.0.1", *port);
  ASSERT_FALSE(taken.is_ok());
  EXPECT_EQ(taken.status().code(), ferry::status_code::unavailable);
  EXPECT_NE(taken.status().message().find("127.0.0.1:" + std::to_string(*port)), std::string::npos);
  httplib::Client c("127.0.0.1", *port);
  for (int i = 0; i < 20; ++i) {
    auto r = c.Get("/stats");
    ASSERT_TRUE(r);
    EXPECT_EQ(nlohmann::json::parse(r->body)["who"], "first") << "only the first server answers";
  }
}

}  // namespace
}  // namespace shop
