// codec: the shop's events in and out of messages, as CloudEvents 1.0 with JSON data.
//
//   ferry::message m = shop::make_event(shop::subject::order_created, created, "/shop/order");
//   auto e = shop::read_event<shop::order_created>(m);   // invalid_argument when malformed
//
// The message's id (and so its Nats-Msg-Id, which the broker deduplicates on) is the event's
// CloudEvent id, so publishing one fact twice stores it once.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "events.h"
#include "ferry/message.h"
#include "ferry/result.h"

namespace shop {

// A message to `subject` holding a CloudEvent of `type` with `id`, `source` and `data`.
ferry::message encode_event(std::string_view subject, std::string_view type, std::string id, std::string_view source,
                            const nlohmann::json& data);
// The data of the CloudEvent in `m`; invalid_argument when `m` is no valid CloudEvent or its type
// is not `type`.
ferry::result<nlohmann::json> decode_event(const ferry::message& m, std::string_view type);
// The CloudEvent id of `m` (the order id for order.created); empty when it has none.
std::string event_id_of(const ferry::message& m);

template <class E>
ferry::message make_event(std::string_view subject, const E& e, std::string_view source) {
  std::string id;
  if constexpr (requires { event_id(e); }) {
    id = event_id(e);
  } else {
    id = ferry::new_id();
  }
  return encode_event(subject, E::type, std::move(id), source, nlohmann::json(e));
}

template <class E>
ferry::result<E> read_event(const ferry::message& m) {
  FERRY_ASSIGN_OR_RETURN(nlohmann::json data, decode_event(m, E::type));
  try {
    return data.get<E>();
  } catch (const nlohmann::json::exception& ex) {
    return ferry::invalid_argument(std::string(E::type) + " with invalid data: " + ex.what());
  }
}

}  // namespace shop
