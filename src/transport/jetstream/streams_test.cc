// Unit tests of the JetStream transport's stream lookup (no server needed).
#include "transport/jetstream/streams.h"

#include <gtest/gtest.h>

namespace ferry::jetstream::detail {
namespace {

TEST(JetStreamSubjects, Overlap) {
  EXPECT_TRUE(subjects_overlap("conf.>", "conf.a.b"));
  EXPECT_TRUE(subjects_overlap("conf.>", "conf.*"));
  EXPECT_TRUE(subjects_overlap("conf.*.x", "conf.a.*"));
  EXPECT_TRUE(subjects_overlap("a.b", "a.b"));
  EXPECT_FALSE(subjects_overlap("conf.>", "conf"));
  EXPECT_FALSE(subjects_overlap("conf.>", "rpc.x"));
  EXPECT_FALSE(subjects_overlap("a.*", "a.b.c"));
  EXPECT_FALSE(subjects_overlap("a.b", "a.c"));
  std::vector<bound_stream> streams = {{"A", {"a.>"}}, {"B", {"b.*", "ab.x"}}};
  status err;
  EXPECT_EQ(stream_for(streams, "a.x", &err)->name, "A");
  EXPECT_EQ(stream_for(streams, "ab.x", &err)->name, "B");
  EXPECT_EQ(stream_for(streams, "rpc.x", &err), nullptr);
  EXPECT_TRUE(err.is_ok());
  EXPECT_EQ(stream_for(streams, ">", &err), nullptr);
  EXPECT_EQ(err.code(), status_code::invalid_argument);
}

}  // namespace
}  // namespace ferry::jetstream::detail
