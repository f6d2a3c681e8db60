// The SDK in a few lines: an in-process transport, a router with retry middleware, a handler
// that answers each greeting with another message.
#include <cstdio>
#include <future>

#include "ferry/inproc.h"
#include "ferry/middleware.h"
#include "ferry/router.h"

int main() {
  auto bus = ferry::inproc::make_transport();
  std::promise<std::string> answered;
  auto answers = bus->subscribe("greeting.answered", {}, [&](ferry::message m) {
    answered.set_value(m.payload);
    m.ack();
  });
  ferry::router r(*bus);
  r.use(ferry::middleware::retry({.max_attempts = 3}));
  ferry::status added = r.add_handler(
      {.name = "greeter", .subject = "greeting", .publish_subject = "greeting.answered"},
      [](ferry::message& m) -> ferry::outcome { return std::vector{ferry::message("", "hello, " + m.payload)}; });
  if (!answers.is_ok() || !added.is_ok() || !r.start().is_ok()) return 1;
  if (!bus->publish(ferry::message("greeting", "ferry")).is_ok()) return 1;
  auto got = answered.get_future();
  if (got.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return 1;
  std::printf("%s\n", got.get().c_str());
  r.stop(std::chrono::seconds(5));
  return 0;
}
