#include "base/subject_check.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

std::string why(std::string_view s, subject_use use) {
  const status st = check_subject(s, use);
  if (st.is_ok()) return "ok";
  EXPECT_EQ(st.code(), status_code::invalid_argument);
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << "one line: " << st.message();
  return st.message();
}

TEST(CheckSubject, AcceptsWhatNatsAccepts) {
  for (const char* s :
       {"foo", "foo.bar", "orders.created.v1", "$JS.API.INFO", "_INBOX.abc", "a-b_c.d=e", "ünïcode.ok"}) {
    EXPECT_EQ(why(s, subject_use::publish), "ok") << s;
    EXPECT_EQ(why(s, subject_use::subscribe), "ok") << s;
  }
  for (const char* s : {"*", ">", "foo.*", "foo.>", "*.bar.>", "foo.*.baz", "foo*"}) {
    EXPECT_EQ(why(s, subject_use::subscribe), "ok") << s;
  }
}

TEST(CheckSubject, RefusesWhatCouldRewriteAProtocolLine) {
  const std::string with_nul("foo\0bar", 7);
  for (const std::string& s : {std::string("foo bar"), std::string("a b c"), std::string("foo\tbar"),
                               std::string("foo\r\nPUB x 1"), std::string("foo\n"), with_nul, std::string("a\x7f")}) {
    for (subject_use use : {subject_use::publish, subject_use::subscribe}) {
      const std::string m = why(s, use);
      EXPECT_NE(m, "ok") << s;
      EXPECT_NE(m.find("token 1"), std::string::npos) << m;
    }
  }
  EXPECT_NE(why("foo bar", subject_use::publish).find("whitespace"), std::string::npos);
  EXPECT_NE(why("foo\r\nbar", subject_use::publish).find("\\r\\n"), std::string::npos) << "the subject is escaped";
  EXPECT_NE(why(with_nul, subject_use::publish).find("control character"), std::string::npos);
}

TEST(CheckSubject, RefusesEmptyTokens) {
  for (const char* s : {"", ".", "foo..bar", ".foo", "foo.", "foo.>."}) {
    EXPECT_NE(why(s, subject_use::publish), "ok") << s;
    EXPECT_NE(why(s, subject_use::subscribe), "ok") << s;
  }
  EXPECT_NE(why("foo..bar", subject_use::publish).find("empty token 2"), std::string::npos);
}

TEST(CheckSubject, WildcardsOnlyInSubscriptions) {
  for (const char* s : {"foo.*", "foo.>", "*", ">", "foo*", "a.b>c"}) {
    const std::string m = why(s, subject_use::publish);
    EXPECT_NE(m.find("wildcard"), std::string::npos) << s << ": " << m;
  }
  EXPECT_NE(why("foo.>.bar", subject_use::subscribe).find("last token"), std::string::npos);
  EXPECT_NE(why(">.foo", subject_use::subscribe), "ok");
}

TEST(CheckName, NatsServerRules) {
  for (const char* n : {"ORDERS", "orders-v1", "KV_config", "a_b-c=d"})
    EXPECT_TRUE(check_name(n, "stream name").is_ok()) << n;
  EXPECT_TRUE(check_name(std::string(255, 'x'), "stream name").is_ok());
  const struct {
    std::string name;
    const char* says;
  } bad[] = {{"", "empty"},
             {"a.b", "'.'"},
             {"a*", "'*'"},
             {"a>", "'>'"},
             {"BAD NAME", "whitespace"},
             {"a\tb", "whitespace"},
             {"a/b", "path separators"},
             {"a\\b", "path separators"},
             {std::string(256, 'x'), "longer than 255"}};
  for (const auto& [name, says] : bad) {
    const status s = check_name(name, "stream name");
    EXPECT_EQ(s.code(), status_code::invalid_argument) << name;
    EXPECT_NE(s.message().find("invalid stream name"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
    EXPECT_FALSE(is_valid_name(name)) << name;
  }
}

TEST(Printable, EscapesControlBytes) {
  EXPECT_EQ(printable(std::string("a\r\n\t\0\x01\"\\z", 9)), "a\\r\\n\\t\\0\\x01\\\"\\\\z");
}

}  // namespace
}  // namespace ferry
