// Starts an embedded ferryd for a test and connects raw clients to it.
#pragma once

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

#include "broker/server.h"
#include "raw_client.h"

namespace ferry::test {

inline std::unique_ptr<broker::server> start_server(broker::server_options o = {}) {
  o.port = 0;
  // Quiet by default; FERRY_TEST_LOG=debug (or info, warn) shows the server's log.
  const char* level = std::getenv("FERRY_TEST_LOG");
  spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::off);
  auto s = broker::server::start(o);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(*s) : nullptr;
}

// A connected client that has read INFO (and, with `connect_json`, completed CONNECT+PING).
inline raw_client client(const broker::server& s, const char* connect_json = nullptr) {
  raw_client c;
  EXPECT_TRUE(c.connect(s.port()));
  if (connect_json != nullptr) {
    EXPECT_TRUE(c.handshake(connect_json));
  }
  return c;
}

constexpr const char* quiet = R"({"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1})";

}  // namespace ferry::test
