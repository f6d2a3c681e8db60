// protobuf_codec<T>: Protocol Buffers for typed events (event.h), T a generated message class.
// Include this header (and link libprotobuf) only where it is used: the rest of the SDK does not
// depend on protobuf.
//
//   auto m = ferry::make_event<shop::OrderCreated, ferry::protobuf_codec<shop::OrderCreated>>(
//       "orders.created", {.source = "/shop", .type = "shop.order.created"}, pb);
//
// In structured mode the bytes travel as data_base64. Stateless and thread-safe.
#pragma once

#include <google/protobuf/message_lite.h>

#include <string>
#include <string_view>
#include <type_traits>

#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {

template <class T>
requires std::is_base_of_v<google::protobuf::MessageLite, T>
class protobuf_codec {
 public:
  [[nodiscard]] std::string_view content_type() const { return "application/protobuf"; }

  [[nodiscard]] result<std::string> encode(const T& value) const {
    std::string out;
    if (!value.SerializeToString(&out)) return invalid_argument("protobuf encode: " + value.GetTypeName());
    return out;
  }

  [[nodiscard]] result<T> decode(std::string_view bytes) const {
    T value;
    if (!value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
      return invalid_argument("protobuf decode: not a valid " + value.GetTypeName());
    return value;
  }
};

}  // namespace ferry
