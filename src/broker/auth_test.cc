#include "broker/auth.h"

#include <crypt.h>
#include <gtest/gtest.h>

namespace ferry::broker {
namespace {

permissions perms(std::vector<std::string> pub_allow, std::vector<std::string> pub_deny,
                  std::vector<std::string> sub_allow, std::vector<std::string> sub_deny) {
  permissions p;
  p.publish.allow = std::move(pub_allow);
  p.publish.deny = std::move(pub_deny);
  p.subscribe.allow = std::move(sub_allow);
  p.subscribe.deny = std::move(sub_deny);
  return p;
}

TEST(Permissions, PublishAllowThenDeny) {
  permission_set p(perms({"orders.>", "_INBOX.>"}, {"orders.secret"}, {}, {}));
  EXPECT_TRUE(p.restricts_publish());
  EXPECT_TRUE(p.can_publish("orders.new"));
  EXPECT_TRUE(p.can_publish("_INBOX.abc.1"));
  EXPECT_FALSE(p.can_publish("orders.secret"));
  EXPECT_FALSE(p.can_publish("payments.new"));
}

TEST(Permissions, DenyOnly) {
  permission_set p(perms({}, {"secret.>"}, {}, {}));
  EXPECT_TRUE(p.can_publish("public"));
  EXPECT_FALSE(p.can_publish("secret.x"));
}

TEST(Permissions, SubscribeMatchesTheSubjectAsALiteral) {
  // As in nats-server: SUB foo.> is allowed by allow foo.* because the pattern covers the
  // literal token ">"; SUB foo.* is not allowed by allow foo.bar.
  permission_set p(perms({}, {}, {"foo.*"}, {}));
  EXPECT_TRUE(p.can_subscribe("foo.bar", ""));
  EXPECT_TRUE(p.can_subscribe("foo.*", ""));
  EXPECT_TRUE(p.can_subscribe("foo.>", ""));
  EXPECT_FALSE(p.can_subscribe("bar", ""));
  permission_set q(perms({}, {}, {"foo.bar"}, {}));
  EXPECT_FALSE(q.can_subscribe("foo.*", ""));
}

TEST(Permissions, QueueEntries) {
  permission_set p(perms({}, {}, {"jobs.* workers", "events.>"}, {}));
  EXPECT_TRUE(p.can_subscribe("jobs.a", "workers"));
  EXPECT_FALSE(p.can_subscribe("jobs.a", "others"));
  EXPECT_FALSE(p.can_subscribe("jobs.a", ""));  // only queue entries cover jobs.*
  EXPECT_TRUE(p.can_subscribe("events.x", ""));
  permission_set d(perms({}, {}, {}, {"jobs.* spies"}));
  EXPECT_FALSE(d.can_subscribe("jobs.a", "spies"));
  EXPECT_TRUE(d.can_subscribe("jobs.a", "workers"));
  EXPECT_TRUE(d.can_subscribe("jobs.a", ""));
}

TEST(Permissions, DeliveryFilterForWildcardsOverlappingDeny) {
  permission_set p(perms({}, {}, {}, {"secret.>"}));
  EXPECT_FALSE(p.can_subscribe("secret.x", ""));
  EXPECT_TRUE(p.can_subscribe(">", ""));
  EXPECT_TRUE(p.needs_delivery_filter(">"));
  EXPECT_FALSE(p.needs_delivery_filter("public.*"));
  EXPECT_TRUE(p.delivery_denied("secret.x"));
  EXPECT_FALSE(p.delivery_denied("public.x"));
}

TEST(PublishCache, CachesDecisions) {
  permission_set p(perms({"a"}, {}, {}, {}));
  publish_cache c;
  EXPECT_TRUE(c.allowed(p, "a"));
  EXPECT_FALSE(c.allowed(p, "b"));
  EXPECT_TRUE(c.allowed(p, "a"));
}

TEST(Authenticator, None) {
  authenticator a(auth_options{});
  EXPECT_FALSE(a.required());
  EXPECT_TRUE(a.authenticate({}).ok);
}

TEST(Authenticator, Token) {
  auth_options o;
  o.token = "s3cret";
  authenticator a(o);
  client_options c;
  EXPECT_FALSE(a.authenticate(c).ok);
  c.auth_token = "s3cret";
  EXPECT_TRUE(a.authenticate(c).ok);
  c.auth_token = "s3cre";
  EXPECT_FALSE(a.authenticate(c).ok);
}

TEST(Authenticator, UsersWithPermissions) {
  auth_options o;
  permissions p;
  p.publish.deny = {"x"};
  o.users = {{"alice", "pw1", p}, {"bob", "pw2", std::nullopt}};
  authenticator a(o);
  client_options c;
  c.user = "alice";
  c.pass = "pw1";
  auto r = a.authenticate(c);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.user, "alice");
  ASSERT_NE(r.perms, nullptr);
  EXPECT_FALSE(r.perms->can_publish("x"));
  c.user = "bob";
  c.pass = "pw2";
  r = a.authenticate(c);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.perms, nullptr);
  c.pass = "pw1";
  EXPECT_FALSE(a.authenticate(c).ok);
  c.user = "carol";
  EXPECT_FALSE(a.authenticate(c).ok);
}

TEST(Password, Bcrypt) {
  crypt_data d{};
  char salt[64];
  ASSERT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt), nullptr);
  std::string hash = crypt_r("letmein", salt, &d);
  EXPECT_TRUE(password_matches("letmein", hash));
  EXPECT_FALSE(password_matches("letmeout", hash));
  EXPECT_TRUE(password_matches("plain", "plain"));
  EXPECT_FALSE(password_matches("plain", "plainer"));
}

}  // namespace
}  // namespace ferry::broker
