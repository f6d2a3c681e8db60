#include "bus_probe.h"

#include <nlohmann/json.hpp>

#include "codec.h"

namespace shop::load {

namespace {

using std::chrono::seconds;

// Standard base64 (RFC 4648) to bytes; characters outside the alphabet are skipped.
std::string base64_decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// The value of header `name` in a NATS header block ("NATS/1.0\r\nName: value\r\n..."), or "".
std::string header_value(const std::string& block, std::string_view name) {
  std::size_t pos = block.find("\r\n");
  while (pos != std::string::npos && pos + 2 < block.size()) {
    const std::size_t start = pos + 2, end = block.find("\r\n", start);
    const std::string line = block.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos && line.compare(0, colon, name) == 0) {
      const std::size_t v = line.find_first_not_of(' ', colon + 1);
      return v == std::string::npos ? std::string() : line.substr(v);
    }
    pos = end;
  }
  return {};
}

// A $JS.API request over NATS core; the reply as JSON, an API error as a status.
ferry::result<nlohmann::json> js_api(ferry::transport& core, const std::string& api, const nlohmann::json& body) {
  FERRY_ASSIGN_OR_RETURN(ferry::message reply, core.request(ferry::message("$JS.API." + api, body.dump()), seconds(5)));
  auto j = nlohmann::json::parse(reply.payload, nullptr, false);
  if (j.is_discarded()) return ferry::internal_error(api + ": reply is not JSON");
  if (j.contains("error")) return ferry::unavailable(api + ": " + j["error"].value("description", j["error"].dump()));
  return j;
}

}  // namespace

ferry::status bus_probe::publish_poison(std::size_t kind) {
  ferry::message m(std::string(subject::order_created), "");
  switch (kind % 3) {
    case 0:  // not a CloudEvent at all
      m.payload = "this is not an order {{{";
      m.headers.set("Content-Type", "text/plain");
      break;
    case 1:  // a CloudEvent of the right type whose data is no order
      m = encode_event(subject::order_created, order_created::type, "poison-" + ferry::new_id(), "/shop/load",
                       nlohmann::json{{"customer", "eve"}, {"note", "no order id, no items"}});
      break;
    default:  // claims to be a structured CloudEvent but lacks the required attributes
      m.payload = R"({"id":"x","data":{"order_id":"x"}})";
      m.headers.set("Content-Type", "application/cloudevents+json");
      break;
  }
  m.id = "poison-" + ferry::new_id();
  return bus_.streams->publish(std::move(m));
}

ferry::status bus_probe::publish_duplicate(const order_created& order) {
  ferry::message m = make_event(subject::order_created, order, "/shop/order");
  m.key = order.customer;
  m.id = "dup-" + ferry::new_id();  // a new Nats-Msg-Id: the broker stores it, the consumer must drop it
  return bus_.streams->publish(std::move(m));
}

ferry::result<std::vector<broker_probe::dead_letter>> bus_probe::dead_letters() {
  if (bus_.kind == bus_kind::kafka) return kafka_dead_letters(bus_.url);
  if (bus_.kind == bus_kind::redis) return redis_dead_letters(bus_.url);
  if (bus_.kind == bus_kind::rabbitmq) return rabbitmq_dead_letters(bus_.url);
  return jetstream_dead_letters();
}

ferry::result<std::vector<broker_probe::dead_letter>> bus_probe::jetstream_dead_letters() {
  const std::string name(stream::dlq);
  FERRY_ASSIGN_OR_RETURN(nlohmann::json info, js_api(*bus_.core, "STREAM.INFO." + name, nlohmann::json::object()));
  const auto& state = info["state"];
  std::vector<dead_letter> out;
  if (state.value("messages", std::uint64_t{0}) == 0) return out;
  for (std::uint64_t seq = state.value("first_seq", std::uint64_t{1}); seq <= state.value("last_seq", std::uint64_t{0});
       ++seq) {
    auto got = js_api(*bus_.core, "STREAM.MSG.GET." + name, {{"seq", seq}});
    if (!got.is_ok()) continue;  // deleted (e.g. replayed): skip
    const auto& msg = (*got)["message"];
    const std::string hdrs = base64_decode(msg.value("hdrs", ""));
    out.push_back({.subject = msg.value("subject", ""),
                   .origin = header_value(hdrs, ferry::header::dead_letter_subject),
                   .reason = header_value(hdrs, ferry::header::dead_letter_reason)});
  }
  return out;
}

}  // namespace shop::load
