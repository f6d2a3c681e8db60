#include "events.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include "ferry/rfc3339.h"

namespace shop {

using nlohmann::json;

void to_json(json& j, const line_item& v) { j = json{{"sku", v.sku}, {"qty", v.qty}}; }
void from_json(const json& j, line_item& v) {
  j.at("sku").get_to(v.sku);
  j.at("qty").get_to(v.qty);
}

void to_json(json& j, const order_created& v) {
  j = json{{"order_id", v.order_id},
           {"customer", v.customer},
           {"items", v.items},
           {"amount", v.amount},
           {"created_at", v.created_at}};
}
void from_json(const json& j, order_created& v) {
  j.at("order_id").get_to(v.order_id);
  j.at("customer").get_to(v.customer);
  j.at("items").get_to(v.items);
  j.at("amount").get_to(v.amount);
  v.created_at = j.value("created_at", "");
}

void to_json(json& j, const order_confirmed& v) {
  j = json{{"order_id", v.order_id}, {"payment_id", v.payment_id}, {"amount", v.amount}};
}
void from_json(const json& j, order_confirmed& v) {
  j.at("order_id").get_to(v.order_id);
  j.at("payment_id").get_to(v.payment_id);
  j.at("amount").get_to(v.amount);
}

void to_json(json& j, const order_cancelled& v) { j = json{{"order_id", v.order_id}, {"reason", v.reason}}; }
void from_json(const json& j, order_cancelled& v) {
  j.at("order_id").get_to(v.order_id);
  j.at("reason").get_to(v.reason);
}

void to_json(json& j, const charge_request& v) {
  j = json{{"order_id", v.order_id}, {"customer", v.customer}, {"amount", v.amount}};
}
void from_json(const json& j, charge_request& v) {
  j.at("order_id").get_to(v.order_id);
  j.at("customer").get_to(v.customer);
  j.at("amount").get_to(v.amount);
}

void to_json(json& j, const charge_reply& v) {
  j = json{{"order_id", v.order_id}, {"approved", v.approved}, {"payment_id", v.payment_id}, {"reason", v.reason}};
}
void from_json(const json& j, charge_reply& v) {
  j.at("order_id").get_to(v.order_id);
  j.at("approved").get_to(v.approved);
  v.payment_id = j.value("payment_id", "");
  v.reason = j.value("reason", "");
}

std::string event_id(const order_created& e) { return e.order_id; }
std::string event_id(const order_confirmed& e) { return e.order_id + ".confirmed"; }
std::string event_id(const order_cancelled& e) { return e.order_id + ".cancelled"; }

namespace {

constexpr std::size_t max_text = 64;
constexpr std::size_t max_items = 50;
constexpr int max_qty = 1'000'000;

bool valid_text(const json& j) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  return !s.empty() && s.size() <= max_text;
}

}  // namespace

std::string parse_order_request(std::string_view body, order_request& out) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "body is not valid JSON";
  if (!j.is_object()) return "body must be a JSON object";
  if (!j.contains("customer") || !valid_text(j["customer"]))
    return fmt::format("customer must be a non-empty string of at most {} characters", max_text);
  if (!j.contains("items") || !j["items"].is_array() || j["items"].empty() || j["items"].size() > max_items)
    return fmt::format("items must be an array of 1 to {} items", max_items);
  if (!j.contains("amount") || !j["amount"].is_number() || !std::isfinite(j["amount"].get<double>()) ||
      j["amount"].get<double>() < 0)
    return "amount must be a number >= 0";
  order_request r;
  r.customer = j["customer"].get<std::string>();
  r.amount = j["amount"].get<double>();
  for (std::size_t i = 0; i < j["items"].size(); ++i) {
    const json& item = j["items"][i];
    if (!item.is_object() || !item.contains("sku") || !valid_text(item["sku"]))
      return fmt::format("items[{}].sku must be a non-empty string of at most {} characters", i, max_text);
    if (!item.contains("qty") || !item["qty"].is_number_integer() || item["qty"].get<std::int64_t>() < 1 ||
        item["qty"].get<std::int64_t>() > max_qty)
      return fmt::format("items[{}].qty must be an integer from 1 to {}", i, max_qty);
    r.items.push_back({item["sku"].get<std::string>(), item["qty"].get<int>()});
  }
  out = std::move(r);
  return {};
}

std::string now_rfc3339() {
  return ferry::format_rfc3339(std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

}  // namespace shop
