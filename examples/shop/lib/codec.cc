#include "codec.h"

#include "ferry/check.h"
#include "ferry/event.h"

namespace shop {

ferry::message encode_event(std::string_view subject, std::string_view type, std::string id, std::string_view source,
                            const nlohmann::json& data) {
  auto m = ferry::make_event(std::string(subject),
                             {.id = std::move(id), .source = std::string(source), .type = std::string(type)}, data);
  FERRY_CHECK(m.is_ok());  // only invalid attributes fail, and ours are constants and ids
  return std::move(m).value();
}

ferry::result<nlohmann::json> decode_event(const ferry::message& m, std::string_view type) {
  FERRY_ASSIGN_OR_RETURN(auto e, ferry::decode_event<nlohmann::json>(m));
  if (e.envelope.type != type)
    return ferry::invalid_argument("unexpected event type " + e.envelope.type + ", want " + std::string(type));
  return std::move(e.data);
}

std::string event_id_of(const ferry::message& m) {
  auto e = ferry::cloudevents::decode(m);
  return e.is_ok() ? e->id : std::string();
}

}  // namespace shop
