#include "broker/client_options.h"

#include <gtest/gtest.h>

namespace ferry::broker {
namespace {

TEST(ClientOptions, DefaultsForAbsentKeys) {
  auto o = parse_client_options("{}");
  ASSERT_TRUE(o.has_value());
  EXPECT_TRUE(o->verbose);
  EXPECT_TRUE(o->pedantic);
  EXPECT_TRUE(o->echo);
  EXPECT_FALSE(o->headers);
  EXPECT_EQ(o->protocol, 0);
}

TEST(ClientOptions, WhatNatsCSends) {
  auto o = parse_client_options(
      R"({"verbose":false,"pedantic":false,"tls_required":false,"name":"","lang":"C","version":"3.4.1","protocol":1,"echo":true,"headers":true,"no_responders":true})");
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->verbose);
  EXPECT_TRUE(o->headers);
  EXPECT_TRUE(o->no_responders);
  EXPECT_EQ(o->lang, "C");
  EXPECT_EQ(o->protocol, 1);
}

TEST(ClientOptions, UnknownKeysAndNullsAreIgnored) {
  auto o = parse_client_options(R"({"unknown":[1,2],"verbose":null,"user":"a","pass":"b"})");
  ASSERT_TRUE(o.has_value());
  EXPECT_TRUE(o->verbose);
  EXPECT_EQ(o->user, "a");
}

TEST(ClientOptions, WrongTypesAndBadJsonFail) {
  for (const char* s : {R"({"verbose":"x"})", R"({"protocol":"1"})", R"({"protocol":1.5})", R"({"user":1})",
                        "", "{", "[]", "{}extra", "null"}) {
    EXPECT_FALSE(parse_client_options(s).has_value()) << s;
  }
}

}  // namespace
}  // namespace ferry::broker
