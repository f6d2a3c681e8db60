// JetStream configuration parsing and checks, without a server: names as nats-server takes them,
// RFC 3339 times as Go writes them, and the stream/consumer defaults and refusals.
#include "broker/js/config.h"

#include <gtest/gtest.h>

namespace ferry::broker::js {
namespace {

TEST(JsConfig, NamesFollowNatsServer) {
  for (const char* ok : {"ORDERS", "kv_config", "a-b=c"}) EXPECT_TRUE(is_valid_name(ok)) << ok;
  EXPECT_TRUE(is_valid_name(std::string(255, 'x')));
  for (const char* bad : {"", "a.b", "a*", "a>", "a b", "a\tb", "a/b", "a\\b"}) EXPECT_FALSE(is_valid_name(bad)) << bad;
  EXPECT_FALSE(is_valid_name(std::string(256, 'x')));
}

TEST(JsConfig, StreamDefaultsAndRefusals) {
  auto cfg = parse_stream_config(nlohmann::json{{"name", "ORDERS"}, {"subjects", {"orders.>"}}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().description;
  ASSERT_TRUE(normalize(cfg.value()).ok());
  EXPECT_EQ(cfg.value().name, "ORDERS");
  for (const nlohmann::json& bad :
       {nlohmann::json{{"name", "a.b"}}, nlohmann::json{{"name", "S"}, {"subjects", {"a..b"}}},
        nlohmann::json{{"name", "S"}, {"max_msgs", "many"}}}) {
    auto c = parse_stream_config(bad);
    const bool refused = !c.ok() || !normalize(c.value()).ok();
    EXPECT_TRUE(refused) << bad.dump();
  }
}

TEST(JsConfig, ConsumerOnAStream) {
  auto stream = parse_stream_config(nlohmann::json{{"name", "ORDERS"}, {"subjects", {"orders.>"}}});
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE(normalize(stream.value()).ok());
  auto c = parse_consumer_config(nlohmann::json{{"durable_name", "worker"}, {"ack_policy", "explicit"}});
  ASSERT_TRUE(c.ok()) << c.error().description;
  EXPECT_TRUE(normalize(c.value(), stream.value()).ok());
  auto outside = parse_consumer_config(nlohmann::json{{"durable_name", "w"}, {"filter_subject", "other.x"}});
  ASSERT_TRUE(outside.ok());
  EXPECT_FALSE(normalize(outside.value(), stream.value()).ok()) << "a filter outside the stream's subjects";
  auto bad_name = parse_consumer_config(nlohmann::json{{"durable_name", "BAD NAME"}});
  EXPECT_TRUE(!bad_name.ok() || !normalize(bad_name.value(), stream.value()).ok());
}

}  // namespace
}  // namespace ferry::broker::js
