#include "protocol/subject.h"

#include <gtest/gtest.h>

namespace ferry::protocol {
namespace {

TEST(Subject, Validity) {
  for (const char* s : {"foo", "foo.bar", "foo.*", "foo.>", "*", ">", "*.*.>", "foo*", "f>o", "$JS.API.INFO", "_INBOX.abc.*"})
    EXPECT_TRUE(is_valid_subject(s)) << s;
  for (const char* s : {"", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.a", "foo bar", "foo\tbar", "a.\r", "a.\f"})
    EXPECT_FALSE(is_valid_subject(s)) << s;
}

TEST(Subject, Literal) {
  EXPECT_TRUE(is_valid_literal_subject("foo.bar"));
  EXPECT_TRUE(is_valid_literal_subject("foo*.b>r"));
  EXPECT_FALSE(is_valid_literal_subject("foo.*"));
  EXPECT_FALSE(is_valid_literal_subject("foo.>"));
  EXPECT_FALSE(is_valid_literal_subject("foo..bar"));
}

TEST(Subject, Matching) {
  EXPECT_TRUE(subject_matches("foo.bar", "foo.bar"));
  EXPECT_FALSE(subject_matches("foo.bar", "foo.baz"));
  EXPECT_TRUE(subject_matches("foo.*", "foo.bar"));
  EXPECT_FALSE(subject_matches("foo.*", "foo.bar.baz"));
  EXPECT_FALSE(subject_matches("foo.*", "foo"));
  EXPECT_TRUE(subject_matches("foo.>", "foo.bar"));
  EXPECT_TRUE(subject_matches("foo.>", "foo.bar.baz"));
  EXPECT_FALSE(subject_matches("foo.>", "foo"));
  EXPECT_TRUE(subject_matches(">", "a"));
  EXPECT_TRUE(subject_matches("*.b.>", "a.b.c"));
  EXPECT_FALSE(subject_matches("*.b.>", "a.c.c"));
  // A literal '*' token published by a non-pedantic client matches only wildcard patterns.
  EXPECT_TRUE(subject_matches("foo.*", "foo.*"));
  EXPECT_FALSE(subject_matches("foo.bar", "foo.*"));
  EXPECT_FALSE(subject_matches("foo*", "foox"));
}

TEST(Subject, Subset) {
  EXPECT_TRUE(subject_is_subset("foo.bar", "foo.*"));
  EXPECT_TRUE(subject_is_subset("foo.*", "foo.*"));
  EXPECT_TRUE(subject_is_subset("foo.*", "foo.>"));
  EXPECT_TRUE(subject_is_subset("foo.>", "foo.>"));
  EXPECT_TRUE(subject_is_subset("foo.*.baz", "foo.>"));
  EXPECT_FALSE(subject_is_subset("foo.>", "foo.*"));
  EXPECT_FALSE(subject_is_subset("foo.*", "foo.bar"));
  EXPECT_FALSE(subject_is_subset("foo.>", "foo.bar.>") );
  EXPECT_FALSE(subject_is_subset("foo", "foo.>"));
}

TEST(Subject, Overlap) {
  EXPECT_TRUE(subjects_overlap("foo.*", "foo.bar"));
  EXPECT_TRUE(subjects_overlap("foo.>", "*.bar.baz"));
  EXPECT_TRUE(subjects_overlap("orders.>", "orders.new"));
  EXPECT_FALSE(subjects_overlap("foo.*", "foo.bar.baz"));
  EXPECT_FALSE(subjects_overlap("orders.>", "order.>"));
  EXPECT_FALSE(subjects_overlap("a.b", "a.c"));
  EXPECT_TRUE(subjects_overlap(">", "x"));
}

TEST(Subject, Tokens) {
  EXPECT_EQ(count_tokens(""), 0u);
  EXPECT_EQ(count_tokens("a"), 1u);
  EXPECT_EQ(count_tokens("a.b.c"), 3u);
  std::string joined;
  for (tokenizer t("a.bb..c"); !t.done(); t.next()) joined += "[" + std::string(t.token()) + "]";
  EXPECT_EQ(joined, "[a][bb][][c]");
}

}  // namespace
}  // namespace ferry::protocol
