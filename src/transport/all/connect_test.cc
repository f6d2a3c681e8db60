// ferry::connect() with every built-in scheme: what parses, and what is refused before any
// connection is tried (the transports' own tests connect to real brokers).
#include "ferry/connect.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

namespace ferry {
namespace {

using namespace std::chrono_literals;

TEST(Connect, EveryBuiltInSchemeIsRegistered) {
  (void)connect("inproc://");
  const auto schemes = registered_schemes();
  for (const char* s : {"inproc", "nats", "jetstream", "kafka", "redis", "amqp"}) {
    EXPECT_NE(std::find(schemes.begin(), schemes.end(), s), schemes.end()) << s;
  }
}

TEST(Connect, InprocUrlMakesAWorkingBus) {
  auto t = connect("inproc://?workers=1&queue_capacity=16&when_full=fail");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ((*t)->name(), "inproc");
  std::mutex mu;
  std::condition_variable cv;
  std::string got;
  auto sub = (*t)->subscribe("a.b", {}, [&](message m) {
    std::lock_guard lock(mu);
    got = m.payload;
    cv.notify_all();
    m.ack();
  });
  ASSERT_TRUE(sub.is_ok());
  ASSERT_TRUE((*t)->publish(message("a.b", "hello")).is_ok());
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return got == "hello"; }));
}

// Each refusal names the part of the URL that is wrong, and comes before any connection attempt
// (nothing listens on these ports).
TEST(Connect, BadOptionsAreRefusedNamingThem) {
  struct bad {
    const char* url;
    const char* named;
  };
  for (const bad& b : {
           bad{"mqtt://h:1883", "\"mqtt\""},
           bad{"inproc://host", "host"},
           bad{"inproc://?workers=lots", "workers"},
           bad{"inproc://?when_full=drop", "when_full"},
           bad{"inproc://?colour=blue", "colour"},
           bad{"nats://127.0.0.1:1?connect_timeout=soon", "connect_timeout"},
           bad{"nats://127.0.0.1:1?max_reconnect=-5", "max_reconnect"},
           bad{"nats://127.0.0.1:1?stream=X", "stream"},
           bad{"jetstream://127.0.0.1:1?stream=:a.b", "stream"},
           bad{"jetstream://127.0.0.1:1?stream=S:a,,b", "empty subject"},
           bad{"jetstream://127.0.0.1:1?storage=tape", "storage"},
           bad{"jetstream://127.0.0.1:1?replicas=9", "replicas"},
           bad{"jetstream://127.0.0.1:1?setup_timeout=forever", "setup_timeout"},
           bad{"kafka://127.0.0.1:1?nack=later", "nack"},
           bad{"kafka://127.0.0.1:1?commit_interval=1x", "commit_interval"},
           bad{"kafka://127.0.0.1:1?no.such.property=1", "no.such.property"},
           bad{"kafka://127.0.0.1:1?linger.ms=-7", "linger.ms"},
           bad{"kafka://", "bootstrap"},
       }) {
    const auto start = std::chrono::steady_clock::now();
    auto t = connect(b.url);
    ASSERT_FALSE(t.is_ok()) << b.url;
    EXPECT_EQ(t.status().code(), status_code::invalid_argument) << b.url << ": " << t.status().to_string();
    EXPECT_NE(t.status().message().find(b.named), std::string::npos) << b.url << ": " << t.status().message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << b.url << " tried to connect first";
  }
}

TEST(Connect, UnreachableBrokersAreUnavailableWithinTheTimeout) {
  for (const char* url :
       {"nats://127.0.0.1:1?connect_timeout=500ms&max_reconnect=0", "kafka://127.0.0.1:1?connect_timeout=1s",
        // every jetstream key taken (a key it did not know would be invalid_argument)
        "jetstream://127.0.0.1:1?connect_timeout=500ms&max_reconnect=0&stream=S:s.>&replicas=1&storage=memory&"
        "max_age=1h&duplicate_window=1m&create_streams=true&publish_timeout=2s&setup_timeout=20s&"
        "fetch_batch=64&inactive_threshold=1m"}) {
    const auto start = std::chrono::steady_clock::now();
    auto t = connect(url);
    ASSERT_FALSE(t.is_ok()) << url;
    EXPECT_EQ(t.status().code(), status_code::unavailable) << url << ": " << t.status().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << url;
  }
}

}  // namespace
}  // namespace ferry
