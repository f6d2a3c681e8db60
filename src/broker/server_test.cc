// The embedding API: start on port 0, learn the port, serve, stop cleanly.
#include "broker/server.h"

#include <gtest/gtest.h>

#include "raw_client.h"

namespace ferry::broker {
namespace {

TEST(Server, StartOnPortZeroServeAndStop) {
  server_options o;
  o.port = 0;
  o.log.level = log_level::off;
  auto s = server::start(o);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_GT((*s)->port(), 0);
  EXPECT_EQ((*s)->client_url(), "nats://127.0.0.1:" + std::to_string((*s)->port()));
  test::raw_client c;
  ASSERT_TRUE(c.connect((*s)->port()));
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("SUB x 1\r\nPUB x 2\r\nhi\r\nPING\r\n"));
  ASSERT_TRUE(c.read_until("PONG\r\n"));
  EXPECT_EQ(c.take(), "MSG x 1 2\r\nhi\r\nPONG\r\n");
  auto st = (*s)->stats();
  EXPECT_EQ(st.in_msgs, 1u);
  EXPECT_EQ(st.out_msgs, 1u);
  EXPECT_EQ(st.subscriptions, 1u);
  EXPECT_EQ(st.connections, 1u);
  (*s)->shutdown();
  EXPECT_TRUE(c.wait_closed());
  (*s)->shutdown();  // idempotent
}

TEST(Server, PortInUseIsAClearError) {
  server_options o;
  o.port = 0;
  o.log.level = log_level::off;
  auto a = server::start(o);
  ASSERT_TRUE(a.is_ok());
  o.port = (*a)->port();
  auto b = server::start(o);
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("listening on 127.0.0.1:" + std::to_string(o.port)), std::string::npos)
      << b.status().message();
}

TEST(Server, InvalidOptionsAreRejected) {
  server_options o;
  o.port = 0;
  o.max_payload = 2 * o.max_pending;
  auto s = server::start(o);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), status_code::invalid_argument);
  server_options t;
  t.port = 0;
  t.tls.enabled = true;
  EXPECT_FALSE(server::start(t).is_ok());
}

TEST(Server, ManyStartsAndStops) {
  for (int i = 0; i < 20; ++i) {
    server_options o;
    o.port = 0;
    o.log.level = log_level::off;
    auto s = server::start(o);
    ASSERT_TRUE(s.is_ok());
    test::raw_client c;
    ASSERT_TRUE(c.connect((*s)->port()));
  }
}

}  // namespace
}  // namespace ferry::broker
