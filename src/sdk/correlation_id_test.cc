#include <gtest/gtest.h>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry::middleware {
namespace {

using testing::chain_runner;

TEST(CorrelationIdTest, MissingIdIsMadeAndCopiedToOutputs) {
  std::string seen;
  chain_runner c({correlation_id()}, [&](message& m) -> outcome {
    seen = m.headers.value_or(header::correlation_id, "");
    message own("out.b", "");
    own.headers.set(std::string(header::correlation_id), "own");
    return std::vector{message("out.a", ""), own};
  });
  c.run(message("in", ""));
  EXPECT_EQ(seen.size(), 22u);
  auto out = c.out.published();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].headers.value_or(header::correlation_id, ""), seen);
  EXPECT_EQ(out[1].headers.value_or(header::correlation_id, ""), "own");  // an explicit one stays
}

TEST(CorrelationIdTest, IncomingIdIsKept) {
  chain_runner c({correlation_id()}, [](message&) -> outcome { return std::vector{message("out", "")}; });
  message m("in", "");
  m.headers.set(std::string(header::correlation_id), "req-42");
  c.run(m);
  ASSERT_EQ(c.out.published().size(), 1u);
  EXPECT_EQ(c.out.published()[0].headers.value_or(header::correlation_id, ""), "req-42");
}

}  // namespace
}  // namespace ferry::middleware
