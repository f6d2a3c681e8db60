#include "ferry/tracing.h"

#include <gtest/gtest.h>

#include "ferry/middleware.h"
#include "sdk/test_chain.h"

namespace ferry {
namespace {

using testing::chain_runner;

constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesAndFormatsRoundTrip) {
  auto c = parse_traceparent(kParent);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->span_id.to_hex(), "00f067aa0ba902b7");
  EXPECT_EQ(c->flags, 1);
  EXPECT_EQ(format_traceparent(*c), kParent);
}

TEST(TraceparentTest, RejectsMalformedValues) {
  for (std::string_view bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",           // no flags
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // 00 has no more fields
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"));
}

class TracingTest : public ::testing::Test {
 protected:
  std::shared_ptr<memory_exporter> spans_ = std::make_shared<memory_exporter>();
  tracer tracer_{spans_};
};

TEST_F(TracingTest, RootSpanWhenNoTraceCameIn) {
  std::string inside;
  chain_runner c({middleware::tracing(tracer_)}, [&](message&) -> outcome {
    inside = current_traceparent();
    return std::vector{message("out", "")};
  });
  message m("orders.created", "");
  m.delivery.transport = "test";
  c.run(m);
  auto s = spans_->spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].is_root());
  EXPECT_TRUE(s[0].trace_id.valid());
  EXPECT_EQ(s[0].name, "process in");
  EXPECT_EQ(s[0].outcome, "ack");
  EXPECT_EQ(s[0].destination, "orders.created");
  EXPECT_EQ(s[0].system, "test");
  EXPECT_EQ(s[0].handler, "h");
  EXPECT_EQ(s[0].saga_id, "");
  EXPECT_LE(s[0].start, s[0].end);
  auto out = c.out.published();
  ASSERT_EQ(out.size(), 1u);
  auto tp = parse_traceparent(out[0].headers.value_or(header::traceparent, ""));
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->trace_id, s[0].trace_id);
  EXPECT_EQ(tp->span_id, s[0].span_id);  // the handler's span is the outputs' parent
  EXPECT_EQ(inside, format_traceparent(*tp));
  EXPECT_EQ(current_traceparent(), "");  // only while the handler runs
}

TEST_F(TracingTest, IncomingTraceIsContinued) {
  chain_runner c({middleware::tracing(tracer_)}, [&](message&) -> outcome { return std::vector{message("out", "")}; });
  message m("in", "");
  m.headers.set(std::string(header::traceparent), std::string(kParent));
  m.headers.set(std::string(header::tracestate), "vendor=1");
  m.headers.set("Ferry-Saga-Id", "order-42");  // a saga command or reply
  c.run(m);
  auto s = spans_->spans();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].saga_id, "order-42");
  auto parent = *parse_traceparent(kParent);
  EXPECT_EQ(s[0].trace_id, parent.trace_id);
  EXPECT_EQ(s[0].parent_span_id, parent.span_id);
  EXPECT_NE(s[0].span_id, parent.span_id);
  auto out = c.out.published();
  ASSERT_EQ(out.size(), 1u);
  auto tp = *parse_traceparent(out[0].headers.value_or(header::traceparent, ""));
  EXPECT_EQ(tp.trace_id, parent.trace_id);
  EXPECT_EQ(tp.span_id, s[0].span_id);
  EXPECT_EQ(out[0].headers.value_or(header::tracestate, ""), "vendor=1");
}

TEST_F(TracingTest, MalformedIncomingTraceStartsARoot) {
  chain_runner c({middleware::tracing(tracer_)}, [](message&) { return outcome::ack(); });
  message m("in", "");
  m.headers.set(std::string(header::traceparent), "garbage");
  c.run(m);
  ASSERT_EQ(spans_->spans().size(), 1u);
  EXPECT_TRUE(spans_->spans()[0].is_root());
}

TEST_F(TracingTest, TwoHopsShareOneTrace) {
  chain_runner first({middleware::tracing(tracer_)}, [](message&) -> outcome { return std::vector{message("b", "")}; });
  chain_runner second({middleware::tracing(tracer_)}, [](message&) { return outcome::retry(unavailable("x")); });
  first.run(message("a", ""));
  second.run(first.out.published().at(0));
  auto s = spans_->spans();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].trace_id, s[0].trace_id);
  EXPECT_EQ(s[1].parent_span_id, s[0].span_id);
  EXPECT_EQ(s[1].outcome, "retry");
  EXPECT_EQ(s[1].error.code(), status_code::unavailable);
}

TEST_F(TracingTest, ExceptionEndsTheSpanAndPropagates) {
  handler_info info;
  auto h = middleware::tracing(tracer_).wrap([](message&) -> outcome { throw std::runtime_error("x"); }, info);
  message m("in", "");
  EXPECT_THROW(h(m), std::runtime_error);
  ASSERT_EQ(spans_->spans().size(), 1u);
  EXPECT_EQ(spans_->spans()[0].outcome, "exception");
}

}  // namespace
}  // namespace ferry
