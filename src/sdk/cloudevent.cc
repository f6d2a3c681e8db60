// CloudEvents 1.0: validation and the NATS binding's structured and binary modes (see event.h).
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/rfc3339.h"
#include "ferry/event.h"
#include "sdk/encoding.h"
#include "sdk/text.h"

namespace ferry {

namespace {

using json = nlohmann::json;

constexpr std::string_view kStructuredType = "application/cloudevents+json; charset=utf-8";
constexpr std::string_view kPrefix = "ce-";
constexpr std::array<std::string_view, 10> kReserved = {
    "id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"};

bool is_reserved(std::string_view name) {
  for (std::string_view r : kReserved)
    if (r == name) return true;
  return false;
}

status check_name(std::string_view name) {
  if (name.empty()) return invalid_argument("cloudevent: empty extension attribute name");
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return invalid_argument("cloudevent: attribute name \"" + std::string(name) + "\" is not lower-case a-z0-9");
  if (is_reserved(name)) return invalid_argument("cloudevent: extension \"" + std::string(name) + "\" is reserved");
  return status::ok();
}

// An absolute URI: a scheme (a letter, then letters, digits, + - .) and a colon.
bool absolute_uri(std::string_view s) {
  const std::size_t colon = s.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (char c : s.substr(0, colon))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) return false;
  return true;
}

// The media type without parameters, lower-cased: "application/json".
std::string media_type(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return detail::to_lower(t);
}

// Data of this content type is JSON (an unset one counts as JSON, as the JSON format says).
bool is_json(std::string_view content_type) {
  if (content_type.empty()) return true;
  const std::string t = media_type(content_type);
  return t == "application/json" || t == "text/json" || (t.size() > 5 && t.ends_with("+json"));
}

bool is_text(std::string_view content_type) {
  const std::string t = media_type(content_type);
  return t.starts_with("text/") || t == "application/xml" || t.ends_with("+xml");
}

status check_utf8(std::string_view what, std::string_view value) {
  if (detail::valid_utf8(value)) return status::ok();
  return invalid_argument("cloudevent: " + std::string(what) + " is not valid UTF-8");
}

// Sets one attribute from its name and string form (binary headers, structured members).
status set_attribute(cloudevent& e, const std::string& name, std::string value) {
  if (name == "id") {
    e.id = std::move(value);
  } else if (name == "source") {
    e.source = std::move(value);
  } else if (name == "type") {
    e.type = std::move(value);
  } else if (name == "specversion") {
    e.specversion = std::move(value);
  } else if (name == "subject") {
    e.subject = std::move(value);
  } else if (name == "datacontenttype") {
    e.datacontenttype = std::move(value);
  } else if (name == "dataschema") {
    e.dataschema = std::move(value);
  } else if (name == "time") {
    e.time = parse_rfc3339(value);
    if (!e.time) return invalid_argument("cloudevent: time \"" + value + "\" is not an RFC 3339 timestamp");
  } else {
    FERRY_RETURN_IF_ERROR(check_name(name));
    e.extensions[name] = std::move(value);
  }
  return status::ok();
}

// Every attribute with its value in string form, in spec order, then the extensions.
template <class F>
void for_each_attribute(const cloudevent& e, F f) {
  f("specversion", e.specversion);
  f("id", e.id);
  f("source", e.source);
  f("type", e.type);
  if (!e.subject.empty()) f("subject", e.subject);
  if (e.time) f("time", format_rfc3339(*e.time));
  if (!e.dataschema.empty()) f("dataschema", e.dataschema);
  for (const auto& [name, value] : e.extensions) f(name, value);
}

result<message> encode_structured(const cloudevent& e, std::string subject) {
  json j = json::object();
  for_each_attribute(e, [&](std::string_view name, const std::string& value) { j[std::string(name)] = value; });
  if (!e.datacontenttype.empty()) j["datacontenttype"] = e.datacontenttype;
  if (!e.data.empty()) {
    if (is_json(e.datacontenttype)) {
      json data = json::parse(e.data, nullptr, /*allow_exceptions=*/false);
      if (data.is_discarded()) {
        if (!e.datacontenttype.empty())
          return invalid_argument("cloudevent: data is not valid JSON, but datacontenttype is " + e.datacontenttype);
        j["data_base64"] = detail::base64_encode(e.data);  // opaque bytes of no declared type
      } else {
        j["data"] = std::move(data);
      }
    } else if (is_text(e.datacontenttype) && detail::valid_utf8(e.data)) {
      j["data"] = e.data;
    } else {
      j["data_base64"] = detail::base64_encode(e.data);
    }
  }
  message m(std::move(subject), j.dump());  // every string was checked to be UTF-8: no throw
  m.headers.set(std::string(header::content_type), std::string(kStructuredType));
  return m;
}

result<cloudevent> decode_structured(const message& m) {
  json j = json::parse(m.payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return invalid_argument("cloudevent: structured payload is not a JSON object");
  cloudevent e;
  e.specversion.clear();
  const json* data = nullptr;
  const json* data_base64 = nullptr;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "data") {
      data = &v;
      continue;
    }
    if (name == "data_base64") {
      data_base64 = &v;
      continue;
    }
    if (v.is_null()) continue;  // null means absent
    std::string value;
    if (v.is_string()) {
      value = v.get<std::string>();
    } else if (v.is_boolean() || v.is_number()) {
      if (is_reserved(name)) return invalid_argument("cloudevent: attribute " + name + " must be a string");
      value = v.dump();  // an extension of type Boolean or Integer, in its string form
    } else {
      return invalid_argument("cloudevent: attribute " + name + " is not a string, number or boolean");
    }
    FERRY_RETURN_IF_ERROR(set_attribute(e, name, std::move(value)));
  }
  if (data && data_base64) return invalid_argument("cloudevent: both data and data_base64");
  if (data_base64 && !data_base64->is_null()) {
    if (!data_base64->is_string()) return invalid_argument("cloudevent: data_base64 is not a string");
    auto bytes = detail::base64_decode(data_base64->get_ref<const std::string&>());
    if (!bytes) return invalid_argument("cloudevent: data_base64 is not base64");
    e.data = std::move(*bytes);
  } else if (data && !data->is_null()) {
    e.data = data->is_string() && !is_json(e.datacontenttype) ? data->get<std::string>() : data->dump();
  }
  return e;
}

result<message> encode_binary(const cloudevent& e, std::string subject) {
  message m(std::move(subject), e.data);
  for_each_attribute(e, [&](std::string_view name, const std::string& value) {
    m.headers.add(std::string(kPrefix) + std::string(name), detail::percent_encode(value));
  });
  if (!e.datacontenttype.empty()) m.headers.set(std::string(header::content_type), e.datacontenttype);
  return m;
}

result<cloudevent> decode_binary(const message& m) {
  cloudevent e;
  e.specversion.clear();
  std::optional<std::string> ce_content_type;
  for (const auto& [key, raw] : m.headers) {
    if (!detail::istarts_with(key, kPrefix)) continue;
    const std::string name = detail::to_lower(std::string_view(key).substr(kPrefix.size()));
    auto value = detail::percent_decode(raw);
    if (!value) return invalid_argument("cloudevent: header " + key + " is not valid percent-encoded UTF-8");
    if (name == "datacontenttype") {
      ce_content_type = std::move(*value);  // the binding puts it in Content-Type; accept this too
      continue;
    }
    FERRY_RETURN_IF_ERROR(set_attribute(e, name, std::move(*value)));
  }
  if (auto ct = detail::header_ci(m.headers, header::content_type)) {
    e.datacontenttype = std::string(*ct);
  } else if (ce_content_type) {
    e.datacontenttype = std::move(*ce_content_type);
  }
  e.data = m.payload;
  return e;
}

}  // namespace

status cloudevent::validate() const {
  if (specversion != "1.0") return invalid_argument("cloudevent: specversion \"" + specversion + "\" is not 1.0");
  if (id.empty()) return invalid_argument("cloudevent: id is required");
  if (source.empty()) return invalid_argument("cloudevent: source is required");
  if (type.empty()) return invalid_argument("cloudevent: type is required");
  if (!dataschema.empty() && !absolute_uri(dataschema))
    return invalid_argument("cloudevent: dataschema \"" + dataschema + "\" is not an absolute URI");
  if (!datacontenttype.empty() && datacontenttype.find('/') == std::string::npos)
    return invalid_argument("cloudevent: datacontenttype \"" + datacontenttype + "\" is not a media type");
  for (const auto& [name, value] : extensions) {
    FERRY_RETURN_IF_ERROR(check_name(name));
    FERRY_RETURN_IF_ERROR(check_utf8("extension " + name, value));
  }
  for (auto [what, value] : {std::pair<std::string_view, const std::string*>{"id", &id},
                             {"source", &source},
                             {"type", &type},
                             {"subject", &subject},
                             {"datacontenttype", &datacontenttype},
                             {"dataschema", &dataschema}})
    FERRY_RETURN_IF_ERROR(check_utf8(what, *value));
  return status::ok();
}

namespace cloudevents {

std::optional<content_mode> detect(const message& m) {
  if (auto ct = detail::header_ci(m.headers, header::content_type); ct && detail::is_structured_cloudevent(*ct))
    return content_mode::structured;
  if (detail::header_ci(m.headers, "ce-specversion")) return content_mode::binary;
  return std::nullopt;
}

result<message> encode(const cloudevent& e, std::string subject, content_mode mode) {
  FERRY_RETURN_IF_ERROR(e.validate());
  auto m = mode == content_mode::structured ? encode_structured(e, std::move(subject))
                                            : encode_binary(e, std::move(subject));
  if (m.is_ok()) m->id = e.id;
  return m;
}

result<cloudevent> decode(const message& m) {
  const auto mode = detect(m);
  if (!mode)
    return invalid_argument(
        "not a CloudEvent: no ce-specversion header and Content-Type is not "
        "application/cloudevents+json");
  if (*mode == content_mode::structured) {
    auto ct = media_type(*detail::header_ci(m.headers, header::content_type));
    if (ct != "application/cloudevents+json")
      return invalid_argument("cloudevent: unsupported event format " + ct + " (only JSON)");
  }
  auto e = *mode == content_mode::structured ? decode_structured(m) : decode_binary(m);
  if (!e.is_ok()) return e;
  FERRY_RETURN_IF_ERROR(e->validate());
  return e;
}

}  // namespace cloudevents
}  // namespace ferry
