// bus: how a shop service reaches its broker, chosen by the URL's scheme:
// - nats://host:port (ferryd or nats-server): a JetStream transport for the durable streams
//   (events, consumer groups that resume after a restart) and a NATS core transport for
//   request/reply. connect_bus() creates the shop's streams when they do not exist (ORDERS on
//   order.>, PAYMENTS on payment.>, SAGAS on saga.>, DLQ on dlq.>), so the services may start in
//   any order.
// - kafka://host:port,...?options (ferry-kafka-mock or a real Kafka): two Kafka transports, one
//   for the events and one for request/reply (a reply topic per process). Topics are created on
//   first use; dead letters go to dlq.<service>.
// - redis://host:port?options: two Redis Streams transports likewise, with the service's name as
//   its consumer name (a restarted service gets its pending entries back at once).
// - amqp://user:password@host:port?options (rabbitmq-server): two RabbitMQ transports likewise;
//   every service declares the dead letters' queue (group rabbitmq_dlq_group on dlq.>, so the
//   queue "shop-dlq.dlq.>") and the saga's command and reply queues (shop::group) before it
//   publishes anything.
//
//   FERRY_ASSIGN_OR_RETURN(shop::bus b, shop::connect_bus({.url = url, .name = "shop-inventory"}));
//   ferry::router r(*b.streams);
//   auto reply = b.core->request(ferry::message("payment.charge", body), 2s);
//
// It is the one place that knows the transports' option structs.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/result.h"
#include "ferry/transport.h"

namespace shop {

struct bus_options {
  std::string url = "nats://127.0.0.1:4222";
  std::string name;  // the client name ferryd shows in /connz
  // ferryd may still be starting: keep trying to connect for this long.
  std::chrono::milliseconds connect_wait{15'000};
};

enum class bus_kind { nats, kafka, redis, rabbitmq };

// RabbitMQ: the consumer group whose queue keeps the dead letters.
inline constexpr std::string_view rabbitmq_dlq_group = "shop-dlq";

// The consumer groups of the saga's commands and replies (on RabbitMQ their queues are declared
// by connect_bus(), so that nothing published before the consumer starts is lost).
namespace group {
inline constexpr std::string_view charges = "payment";                     // payment.charge
inline constexpr std::string_view refunds = "payment-refund";              // payment.refund
inline constexpr std::string_view saga_replies = "inventory-saga";         // saga.order.reply
inline constexpr std::string_view grpc_charges = "inventory-grpc-charge";  // payment.charge.grpc
}  // namespace group

struct bus {
  bus_kind kind = bus_kind::nats;
  std::string url;
  std::unique_ptr<ferry::transport> streams;  // JetStream, Kafka, Redis or RabbitMQ
  std::unique_ptr<ferry::transport> core;     // NATS core, Kafka, Redis or RabbitMQ (request/reply)
};

ferry::result<bus> connect_bus(const bus_options& o);

}  // namespace shop
