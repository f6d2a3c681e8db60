// bus_probe: shop-load's broker_probe (driver.h) over the shop's bus: poison messages and
// duplicates are published through the events transport; dead letters are read where the broker
// keeps them: on NATS with the JetStream API ($JS.API.STREAM.INFO / STREAM.MSG.GET) over core
// request/reply, on Kafka from the dlq.<service> topics with a plain librdkafka consumer
// (kafka_dead_letters.cc), on Redis from the dlq.<service> streams with plain hiredis XRANGEs
// (redis_dead_letters.cc), on RabbitMQ from the dead letters' queue with plain rabbitmq-c basic.gets
// (rabbitmq_dead_letters.cc).
#pragma once

#include "bus.h"
#include "driver.h"

namespace shop::load {

class bus_probe : public broker_probe {
 public:
  // `b` must outlive the probe.
  explicit bus_probe(bus& b) : bus_(b) {}
  ferry::status publish_poison(std::size_t kind) override;
  ferry::status publish_duplicate(const order_created& order) override;
  ferry::result<std::vector<dead_letter>> dead_letters() override;

 private:
  ferry::result<std::vector<dead_letter>> jetstream_dead_letters();
  bus& bus_;
};

// Every message of the Kafka topics dlq.<service> (each service of the shop), read from the start
// of each partition to its end as of the call.
ferry::result<std::vector<broker_probe::dead_letter>> kafka_dead_letters(const std::string& url);
// Every entry of the Redis streams dlq.<service>.
ferry::result<std::vector<broker_probe::dead_letter>> redis_dead_letters(const std::string& url);
// Every message in the RabbitMQ queue of the dead letters (left there).
ferry::result<std::vector<broker_probe::dead_letter>> rabbitmq_dead_letters(const std::string& url);

}  // namespace shop::load
