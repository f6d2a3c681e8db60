#include "protocol/errors.h"

#include <gtest/gtest.h>

namespace ferry::protocol {
namespace {

TEST(Errors, ExactTexts) {
  EXPECT_EQ(err_frame(client_error::unknown_protocol_operation), "-ERR 'Unknown Protocol Operation'\r\n");
  EXPECT_EQ(err_frame(client_error::maximum_control_line_exceeded), "-ERR 'maximum control line exceeded'\r\n");
  EXPECT_EQ(err_frame(client_error::authentication_timeout), "-ERR 'Authentication Timeout'\r\n");
  EXPECT_EQ(err_frame(client_error::maximum_subscriptions_exceeded), "-ERR 'maximum subscriptions exceeded'\r\n");
  EXPECT_TRUE(describe(client_error::stale_connection).closes);
  EXPECT_FALSE(describe(client_error::invalid_subject).closes);
  EXPECT_FALSE(describe(client_error::invalid_publish_subject).closes);
}

TEST(Errors, PermissionViolationsQuoteLikeGo) {
  EXPECT_EQ(publish_violation("foo.bar"), "-ERR 'Permissions Violation for Publish to \"foo.bar\"'\r\n");
  EXPECT_EQ(subscribe_violation("a.>", ""), "-ERR 'Permissions Violation for Subscription to \"a.>\"'\r\n");
  EXPECT_EQ(subscribe_violation("a", "q"),
            "-ERR 'Permissions Violation for Subscription to \"a\" using queue \"q\"'\r\n");
  EXPECT_EQ(reply_violation("$JS.ACK.x"), "-ERR 'Permissions Violation for Publish with Reply of \"$JS.ACK.x\"'\r\n");
  EXPECT_EQ(go_quote("a\"b\\c\x01"), "\"a\\\"b\\\\c\\x01\"");
}

}  // namespace
}  // namespace ferry::protocol
