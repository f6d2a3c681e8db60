#include <gtest/gtest.h>

#include "ferry/event.h"

namespace ferry {
namespace {

using namespace std::chrono;

cloudevent sample(std::string data = R"({"id":42,"item":"book"})", std::string type = "application/json") {
  cloudevent e;
  e.id = "evt-1";
  e.source = "/shop/orders";
  e.type = "shop.order.created";
  e.subject = "order 42";
  e.time = time_point_cast<system_clock::duration>(sys_days(year(2024) / May / 1) + 12h + 250ms);
  e.datacontenttype = std::move(type);
  e.dataschema = "https://example.com/schemas/order.json";
  e.extensions = {{"partitionkey", "customer-7"},
                  {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  e.data = std::move(data);
  return e;
}

class CloudEventModesTest : public ::testing::TestWithParam<content_mode> {};

TEST_P(CloudEventModesTest, RoundTrips) {
  for (const cloudevent& e :
       {sample(), sample("plain \"text\" with spaces, and caf\xc3\xa9", "text/plain"),
        sample(std::string("\x00\x01\xff binary", 11), "application/octet-stream"), sample("", "")}) {
    auto m = cloudevents::encode(e, "orders.created", GetParam());
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ(m->subject, "orders.created");
    EXPECT_EQ(m->id, "evt-1");
    EXPECT_EQ(cloudevents::detect(*m), GetParam());
    auto back = cloudevents::decode(*m);
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    EXPECT_EQ(*back, e) << m->payload;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CloudEventModesTest, ::testing::Values(content_mode::structured, content_mode::binary),
                         [](const auto& info) { return info.param == content_mode::binary ? "Binary" : "Structured"; });

TEST(CloudEventTest, StructuredModeEmbedsJsonAndBase64sBytes) {
  auto json = cloudevents::encode(sample(), "s");
  ASSERT_TRUE(json.is_ok());
  EXPECT_EQ(json->headers.value_or("Content-Type", ""), "application/cloudevents+json; charset=utf-8");
  EXPECT_NE(json->payload.find(R"("data":{"id":42,"item":"book"})"), std::string::npos) << json->payload;
  EXPECT_NE(json->payload.find(R"("time":"2024-05-01T12:00:00.25Z")"), std::string::npos) << json->payload;
  auto bytes = cloudevents::encode(sample("\x01\x02", "application/octet-stream"), "s");
  ASSERT_TRUE(bytes.is_ok());
  EXPECT_NE(bytes->payload.find(R"("data_base64":"AQI=")"), std::string::npos) << bytes->payload;
}

TEST(CloudEventTest, BinaryModeUsesPercentEncodedCeHeaders) {
  auto m = cloudevents::encode(sample(), "s", content_mode::binary);
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->headers.value_or("ce-specversion", ""), "1.0");
  EXPECT_EQ(m->headers.value_or("ce-id", ""), "evt-1");
  EXPECT_EQ(m->headers.value_or("ce-subject", ""), "order%2042");
  EXPECT_EQ(m->headers.value_or("ce-partitionkey", ""), "customer-7");
  EXPECT_EQ(m->headers.value_or("Content-Type", ""), "application/json");
  EXPECT_FALSE(m->headers.contains("ce-datacontenttype"));
  EXPECT_EQ(m->payload, R"({"id":42,"item":"book"})");
}

TEST(CloudEventTest, DecodesForeignEvents) {
  message structured("s", R"({"specversion":"1.0","id":"x","source":"urn:a","type":"t","count":3,"flag":true,
                             "data":"hello","datacontenttype":"text/plain","nothing":null})");
  structured.headers.set("content-type", "application/cloudevents+json");
  auto e = cloudevents::decode(structured);
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  EXPECT_EQ(e->data, "hello");
  EXPECT_EQ(e->extensions.at("count"), "3");
  EXPECT_EQ(e->extensions.at("flag"), "true");
  EXPECT_FALSE(e->extensions.contains("nothing"));

  message binary("s", "payload");
  binary.headers.set("CE-SpecVersion", "1.0").set("CE-ID", "y").set("ce-source", "urn:b").set("ce-type", "t");
  auto b = cloudevents::decode(binary);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->id, "y");
  EXPECT_EQ(b->data, "payload");
}

TEST(CloudEventTest, ValidationNamesTheProblem) {
  auto broken = [](auto change) {
    cloudevent e = sample();
    change(e);
    return e.validate();
  };
  EXPECT_TRUE(sample().validate().is_ok());
  EXPECT_EQ(broken([](cloudevent& e) { e.id.clear(); }).message(), "cloudevent: id is required");
  EXPECT_EQ(broken([](cloudevent& e) { e.source.clear(); }).message(), "cloudevent: source is required");
  EXPECT_EQ(broken([](cloudevent& e) { e.type.clear(); }).message(), "cloudevent: type is required");
  EXPECT_FALSE(broken([](cloudevent& e) { e.specversion = "0.3"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.extensions["Upper"] = "x"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.extensions["with-dash"] = "x"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.extensions["data"] = "x"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.extensions["time"] = "x"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.dataschema = "relative/path"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.datacontenttype = "json"; }).is_ok());
  EXPECT_FALSE(broken([](cloudevent& e) { e.subject = "\xff"; }).is_ok());
  EXPECT_EQ(cloudevents::encode(cloudevent{}, "s").status().code(), status_code::invalid_argument);
}

TEST(CloudEventTest, RejectsInvalidMessages) {
  auto structured = [](std::string payload) {
    message m("s", std::move(payload));
    m.headers.set("Content-Type", "application/cloudevents+json");
    return cloudevents::decode(m);
  };
  EXPECT_FALSE(cloudevents::decode(message("s", "{}")).is_ok());  // no sign of a CloudEvent
  EXPECT_FALSE(structured("not json").is_ok());
  EXPECT_FALSE(structured("[1]").is_ok());
  EXPECT_FALSE(structured(R"({"id":"x","source":"s","type":"t"})").is_ok());             // no specversion
  EXPECT_FALSE(structured(R"({"specversion":"1.0","source":"s","type":"t"})").is_ok());  // no id
  EXPECT_FALSE(structured(R"({"specversion":"1.0","id":"x","source":"s","type":"t","time":"yesterday"})").is_ok());
  EXPECT_FALSE(
      structured(R"({"specversion":"1.0","id":"x","source":"s","type":"t","data":1,"data_base64":"AQ=="})").is_ok());
  EXPECT_FALSE(structured(R"({"specversion":"1.0","id":"x","source":"s","type":"t","data_base64":"!!"})").is_ok());
  EXPECT_FALSE(structured(R"({"specversion":"1.0","id":"x","source":"s","type":"t","ext":{"a":1}})").is_ok());
  EXPECT_FALSE(structured(R"({"specversion":"1.0","id":1,"source":"s","type":"t"})").is_ok());
  message other_format("s", "");
  other_format.headers.set("Content-Type", "application/cloudevents+protobuf");
  EXPECT_EQ(cloudevents::decode(other_format).status().code(), status_code::invalid_argument);
  message bad_escape("s", "");
  bad_escape.headers.set("ce-specversion", "1.0").set("ce-id", "%zz").set("ce-source", "s").set("ce-type", "t");
  EXPECT_FALSE(cloudevents::decode(bad_escape).is_ok());
}

TEST(CloudEventTest, DeclaredJsonThatIsNotJsonIsRefusedInStructuredMode) {
  EXPECT_FALSE(cloudevents::encode(sample("{not json", "application/json"), "s").is_ok());
  auto undeclared = cloudevents::encode(sample("{not json", ""), "s");  // opaque: carried as base64
  ASSERT_TRUE(undeclared.is_ok());
  EXPECT_EQ(cloudevents::decode(*undeclared)->data, "{not json");
}

}  // namespace
}  // namespace ferry
