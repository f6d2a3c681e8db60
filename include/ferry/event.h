// event: CloudEvents 1.0 envelopes for messages, and typed events over a codec.
//
//   struct order { int id; };                                  // with ADL to_json / from_json
//   auto m = ferry::make_event<order>("orders.created",
//                                     {.source = "/shop/orders", .type = "shop.order.created"},
//                                     order{42});              // structured JSON by default
//   t.publish(std::move(m.value()));
//
//   r.add_handler({.subject = "orders.created"},
//                 ferry::typed_handler<order>([](const ferry::event<order>& e, ferry::message&) {
//                   reserve(e.data.id);
//                   return ferry::outcome::ack();
//                 }));
//
// Two content modes (NATS protocol binding):
//   structured: the payload is the JSON event format, Content-Type application/cloudevents+json.
//               JSON data (datacontenttype empty, application/json or any +json) is embedded as
//               JSON; text data as a string; anything else as data_base64.
//   binary:     attributes in `ce-<name>` headers, values percent-encoded (binding 1.0.3-wip:
//               space, '"', '%' and bytes outside printable ASCII), Content-Type carries
//               datacontenttype, the payload is the data as is.
// decode() tells them apart: Content-Type application/cloudevents... is structured, a
// ce-specversion header binary. Structured is the default: it is the one released binding.
//
// Nothing here throws; failures are invalid_argument statuses.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ferry/handler.h"
#include "ferry/json_codec.h"
#include "ferry/message.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {

struct cloudevent {
  std::string id;      // required; make_event makes one when empty
  std::string source;  // required: a URI-reference naming the producer
  std::string type;    // required, e.g. "shop.order.created"
  std::string specversion = "1.0";
  std::string subject;                                        // optional: what the event is about, within the source
  std::optional<std::chrono::system_clock::time_point> time;  // optional
  std::string datacontenttype;                                // optional media type of data
  std::string dataschema;                                     // optional absolute URI
  // Extension attributes by name, in their string form. Names: lower-case a-z and 0-9, not one
  // of the attributes above, nor "data" or "data_base64".
  std::map<std::string, std::string> extensions;
  std::string data;  // the data as bytes; empty: none

  // OK when specversion is "1.0", id, source and type are set, and every attribute name and
  // value follows the rules; else invalid_argument saying which.
  [[nodiscard]] status validate() const;
  friend bool operator==(const cloudevent&, const cloudevent&) = default;
};

enum class content_mode : std::uint8_t { structured, binary };

namespace cloudevents {

// A message to `subject` carrying `e` (validated first). The message id is the event id.
result<message> encode(const cloudevent& e, std::string subject, content_mode mode = content_mode::structured);
// The event a message carries, in either mode (validated).
result<cloudevent> decode(const message& m);
// The mode a message uses, or nullopt when it is not a CloudEvent.
std::optional<content_mode> detect(const message& m);

}  // namespace cloudevents

// What a codec turns a T into and back: see json_codec.h and protobuf_codec.h.
template <class C, class T>
concept event_codec = requires(const C& c, const T& value, std::string_view bytes) {
  { c.content_type() } -> std::convertible_to<std::string_view>;
  { c.encode(value) } -> std::same_as<result<std::string>>;
  { c.decode(bytes) } -> std::same_as<result<T>>;
};

// A decoded typed event: the envelope (its data left empty) and the data.
template <class T>
struct event {
  cloudevent envelope;
  T data;
};

// A message carrying `value` in an event: the attributes of `envelope` (id made when empty, time
// now when unset, datacontenttype from the codec, data replaced).
template <class T, class Codec = json_codec<T>>
requires event_codec<Codec, T> result<message> make_event(std::string subject, cloudevent envelope, const T& value,
                                                          content_mode mode = content_mode::structured,
                                                          const Codec& codec = {}) {
  auto bytes = codec.encode(value);
  if (!bytes.is_ok()) return bytes.status();
  if (envelope.id.empty()) envelope.id = new_id();
  if (!envelope.time) envelope.time = std::chrono::system_clock::now();
  envelope.datacontenttype = std::string(codec.content_type());
  envelope.data = std::move(bytes).value();
  return cloudevents::encode(envelope, std::move(subject), mode);
}

// The typed event in `m`.
template <class T, class Codec = json_codec<T>>
requires event_codec<Codec, T> result<event<T>> decode_event(const message& m, const Codec& codec = {}) {
  auto e = cloudevents::decode(m);
  if (!e.is_ok()) return e.status();
  auto value = codec.decode(e->data);
  if (!value.is_ok()) return value.status().with_context("event " + e->id + " (" + e->type + ")");
  event<T> out{std::move(e).value(), std::move(value).value()};
  out.envelope.data.clear();
  return out;
}

// A handler calling f(const event<T>&, message&) -> outcome. A message that is not a valid
// CloudEvent carrying a T is dropped with invalid_argument (so it reaches the dead letters
// instead of being redelivered forever).
template <class T, class Codec = json_codec<T>, class F>
requires event_codec<Codec, T> && std::is_invocable_r_v < outcome, F&, const event<T>
&, message& > handler typed_handler(F f, Codec codec = {}) {
  return [f = std::move(f), codec = std::move(codec)](message& m) mutable -> outcome {
    auto e = decode_event<T>(m, codec);
    if (!e.is_ok()) return outcome::drop(invalid_argument(e.status().message()));
    return f(*e, m);
  };
}

}  // namespace ferry
