// json_codec<T>: JSON for typed events (event.h), through nlohmann-json and the type's ADL
// to_json / from_json (or NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE).
//
//   struct order { int id; std::string item; };
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(order, id, item)
//   ferry::json_codec<order> codec;
//   auto bytes = codec.encode(order{1, "book"});   // result<std::string>: {"id":1,"item":"book"}
//
// Never throws: nlohmann's exceptions become invalid_argument. Stateless and thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {

template <class T>
class json_codec {
 public:
  [[nodiscard]] std::string_view content_type() const { return "application/json"; }

  [[nodiscard]] result<std::string> encode(const T& value) const {
    try {
      nlohmann::json j = value;
      return j.dump();
    } catch (const nlohmann::json::exception& e) {
      return invalid_argument(std::string("json encode: ") + e.what());
    }
  }

  [[nodiscard]] result<T> decode(std::string_view bytes) const {
    nlohmann::json j = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return invalid_argument("json decode: not valid JSON");
    try {
      return j.get<T>();
    } catch (const nlohmann::json::exception& e) {
      return invalid_argument(std::string("json decode: ") + e.what());
    }
  }
};

}  // namespace ferry
