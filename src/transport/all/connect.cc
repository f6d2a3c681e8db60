// ferry::connect(): every transport built in this repository, by URL scheme.
#include "ferry/connect.h"

#include <mutex>

#include "ferry/inproc.h"
#include "ferry/jetstream.h"
#include "ferry/kafka.h"
#include "ferry/nats.h"
#include "ferry/rabbitmq.h"
#include "ferry/redis.h"

namespace ferry {

result<std::unique_ptr<transport>> connect(std::string_view url) {
  static std::once_flag once;
  std::call_once(once, [] {
    // A scheme an application registered first keeps its own factory.
    (void)register_transport("inproc", inproc::connect_url);
    (void)register_transport("nats", nats::connect_url);
    (void)register_transport("jetstream", jetstream::connect_url);
    (void)register_transport("kafka", kafka::connect_url);
    (void)register_transport("redis", redis::connect_url);
    (void)register_transport("amqp", rabbitmq::connect_url);
  });
  return connect_registered(url);
}

}  // namespace ferry
