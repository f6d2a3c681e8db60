// bus_probe: shop-load's broker_probe (driver.h) over the shop's bus: poison messages and
// duplicates are published through the JetStream transport, dead letters read with the
// JetStream API ($JS.API.STREAM.INFO / STREAM.MSG.GET) over NATS core request/reply.
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
  bus& bus_;
};

}  // namespace shop::load
