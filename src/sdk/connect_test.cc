#include "ferry/connect.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

TEST(TransportUrl, SplitsSchemeHostsAndDecodedParams) {
  auto u = parse_transport_url("KAFKA://a:9092,b:9092?client.id=x%20y&nack=retry_topics&k=1&k=2&empty=");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->scheme, "kafka");
  EXPECT_EQ(u->hosts, "a:9092,b:9092");
  EXPECT_EQ(u->host_list(), (std::vector<std::string>{"a:9092", "b:9092"}));
  const std::vector<std::pair<std::string, std::string>> want = {
      {"client.id", "x y"}, {"nack", "retry_topics"}, {"k", "1"}, {"k", "2"}, {"empty", ""}};
  EXPECT_EQ(u->params, want);
}

TEST(TransportUrl, NoHostsAndNoQuery) {
  auto u = parse_transport_url("inproc://");
  ASSERT_TRUE(u.is_ok());
  EXPECT_EQ(u->scheme, "inproc");
  EXPECT_TRUE(u->hosts.empty());
  EXPECT_TRUE(u->host_list().empty());
  EXPECT_TRUE(u->params.empty());
}

TEST(TransportUrl, BadUrlsNameTheBadPart) {
  struct bad {
    const char* url;
    const char* named;
  };
  for (const bad& b :
       {bad{"localhost:4222", "localhost:4222"}, bad{"://x", "://x"}, bad{"nats://h?novalue", "novalue"},
        bad{"nats://h?=x", "=x"}, bad{"nats://h?a=%zz", "%zz"}, bad{"nats://h?a=%4", "%4"}, bad{"nats://a b", "a b"}}) {
    auto u = parse_transport_url(b.url);
    ASSERT_FALSE(u.is_ok()) << b.url;
    EXPECT_EQ(u.status().code(), status_code::invalid_argument);
    EXPECT_NE(u.status().message().find(b.named), std::string::npos) << u.status().message();
  }
}

TEST(TransportUrl, RedactedHidesSecrets) {
  auto u = parse_transport_url("nats://ann:s3cret@h:4222?password=p4ss&token=t0k&name=svc&sasl.password=x");
  ASSERT_TRUE(u.is_ok());
  const std::string r = u->redacted();
  for (const char* secret : {"s3cret", "p4ss", "t0k", "ann"}) EXPECT_EQ(r.find(secret), std::string::npos) << r;
  EXPECT_NE(r.find("name=svc"), std::string::npos) << r;
  EXPECT_NE(r.find("h:4222"), std::string::npos) << r;
}

TEST(UrlParams, TypedValuesAndUnknownKeys) {
  auto u = parse_transport_url("x://h?t=1m30s&n=42&b=yes&s=text&unknown=1&other=2");
  ASSERT_TRUE(u.is_ok());
  url_params p(*u);
  auto t = p.duration("t");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(*t, std::optional<std::chrono::milliseconds>(90s));
  auto n = p.integer("n", 0, 100);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, std::optional<std::int64_t>(42));
  auto b = p.boolean("b");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(*b, std::optional<bool>(true));
  EXPECT_EQ(p.text("s"), "text");
  EXPECT_EQ(p.text("missing"), std::nullopt);
  const status s = p.finish();
  EXPECT_EQ(s.code(), status_code::invalid_argument);
  EXPECT_NE(s.message().find("\"unknown\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"other\""), std::string::npos) << s.message();
  EXPECT_EQ(p.take_rest().size(), 2u);
  EXPECT_TRUE(p.finish().is_ok()) << "take_rest takes them";
}

TEST(UrlParams, BadValuesNameKeyAndValue) {
  auto u = parse_transport_url("x://h?t=5&n=101&m=abc&b=maybe&neg=-1s");
  ASSERT_TRUE(u.is_ok());
  url_params p(*u);
  for (auto s : {p.duration("t").status(), p.integer("n", 0, 100).status(), p.integer("m", 0, 100).status(),
                 p.boolean("b").status(), p.duration("neg").status()}) {
    EXPECT_EQ(s.code(), status_code::invalid_argument);
  }
  auto t = p.duration("t");
  EXPECT_NE(t.status().message().find("x option t"), std::string::npos) << t.status().message();
  auto n = p.integer("n", 0, 100);
  EXPECT_NE(n.status().message().find("n=\"101\""), std::string::npos) << n.status().message();
}

TEST(Registry, ConnectsThroughTheSchemeAndRefusesUnknownOnes) {
  int calls = 0;
  ASSERT_TRUE(register_transport("regtest", [&](const transport_url& u) -> result<std::unique_ptr<transport>> {
                ++calls;
                return invalid_argument("factory saw " + u.hosts);
              }).is_ok());
  EXPECT_EQ(
      register_transport(
          "regtest", [](const transport_url&) -> result<std::unique_ptr<transport>> { return invalid_argument(""); })
          .code(),
      status_code::already_exists);
  auto r = connect_registered("regtest://h1,h2");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.status().message(), "factory saw h1,h2");
  auto unknown = connect_registered("nosuch://h?password=x");
  EXPECT_EQ(unknown.status().code(), status_code::invalid_argument);
  EXPECT_NE(unknown.status().message().find("\"nosuch\""), std::string::npos);
  EXPECT_NE(unknown.status().message().find("regtest"), std::string::npos) << "lists the known schemes";
  EXPECT_EQ(unknown.status().message().find("password=x"), std::string::npos) << "secrets stay out of errors";
}

}  // namespace
}  // namespace ferry
