#include "bus.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "events.h"
#include "ferry/connect.h"
#include "ferry/jetstream.h"
#include "ferry/nats.h"

namespace shop {

namespace {

// Calls `connect` until it succeeds or `wait` has passed (ferryd may still be starting).
template <class F>
auto retry_connect(F connect, std::chrono::milliseconds wait) -> decltype(connect()) {
  const auto end = std::chrono::steady_clock::now() + wait;
  for (bool logged = false;; logged = true) {
    auto t = connect();
    if (t.is_ok() || t.status().code() != ferry::status_code::unavailable || std::chrono::steady_clock::now() > end)
      return t;
    if (!logged) spdlog::info("waiting for the broker: {}", t.status().to_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

ferry::result<bus> connect_bus(const bus_options& o) {
  const bool kafka = o.url.starts_with("kafka://"), redis = o.url.starts_with("redis://"),
             rabbitmq = o.url.starts_with("amqp://");
  if (kafka || redis || rabbitmq) {
    // The service's name: Kafka's client id (in the brokers' logs), Redis's consumer name (stable
    // across restarts), RabbitMQ's connection name. The URL may set its own: the last value of an
    // option wins.
    const std::size_t q = o.url.find('?');
    const std::string url = o.url.substr(0, q) +
                            (kafka   ? "?client.id="
                             : redis ? "?consumer="
                                     : "?name=") +
                            o.name + (q == std::string::npos ? std::string() : "&" + o.url.substr(q + 1));
    bus b{.kind = kafka ? bus_kind::kafka : redis ? bus_kind::redis : bus_kind::rabbitmq, .url = o.url};
    FERRY_ASSIGN_OR_RETURN(b.streams, retry_connect([&] { return ferry::connect(url); }, o.connect_wait));
    FERRY_ASSIGN_OR_RETURN(b.core, retry_connect([&] { return ferry::connect(url); }, o.connect_wait));
    if (rabbitmq) {
      // RabbitMQ keeps a message only for the queues that exist when it is published: the dead
      // letters' queue and the saga's queues are declared before any service can publish to them.
      const std::pair<std::string, std::string_view> queues[] = {
          {std::string(subject::dlq_prefix) + ">", rabbitmq_dlq_group},
          {std::string(subject::payment_charge), group::charges},
          {std::string(subject::payment_refund), group::refunds},
          {std::string(subject::payment_charge_grpc), group::grpc_charges},
          {std::string(subject::saga_reply), group::saga_replies},
      };
      for (const auto& [subject, g] : queues) {
        auto q = b.streams->subscribe(subject, {.group = std::string(g)}, [](ferry::message m) { m.nack(); });
        if (!q.is_ok()) return q.status();
        (*q)->stop();
      }
    }
    return b;
  }
  ferry::jetstream::options js;
  js.connection.name = o.name;
  // A pull waits this long at most for a batch to fill: it bounds the latency of a quiet stream.
  js.connection.poll_interval = std::chrono::milliseconds(50);
  js.streams = {
      {.name = std::string(stream::orders), .subjects = {"order.>"}},
      {.name = std::string(stream::dlq), .subjects = {std::string(subject::dlq_prefix) + ">"}},
      {.name = std::string(stream::payments), .subjects = {"payment.>"}},
      {.name = std::string(stream::sagas), .subjects = {"saga.>"}},
  };
  bus b{.kind = bus_kind::nats, .url = o.url};
  FERRY_ASSIGN_OR_RETURN(b.streams,
                         retry_connect([&] { return ferry::jetstream::connect(o.url, js); }, o.connect_wait));
  FERRY_ASSIGN_OR_RETURN(b.core,
                         retry_connect([&] { return ferry::nats::connect(o.url, {.name = o.name}); }, o.connect_wait));
  return b;
}

}  // namespace shop
