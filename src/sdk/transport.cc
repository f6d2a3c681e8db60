#include "ferry/transport.h"

namespace ferry {

std::string capabilities::to_string() const {
  std::string out;
  auto add = [&](bool on, std::string_view name) {
    if (!on) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(persistent, "persistent");
  add(consumer_groups, "consumer_groups");
  add(per_key_order, "per_key_order");
  add(delayed_delivery, "delayed_delivery");
  add(request_reply, "request_reply");
  add(redelivery, "redelivery");
  add(delivery_count, "delivery_count");
  add(wildcards, "wildcards");
  add(no_responders, "no_responders");
  return out.empty() ? "none" : out;
}

status publisher::publish(std::vector<message> ms) {
  for (message& m : ms) FERRY_RETURN_IF_ERROR(publish(std::move(m)));
  return status::ok();
}

void publisher::publish_async(const message& m, publish_callback done) { done(publish(m)); }

void publisher::publish_async(message&& m, publish_callback done) { done(publish(std::move(m))); }

result<message> transport::request(message, std::chrono::milliseconds) {
  return status(status_code::unimplemented, std::string(name()) + " transport has no request/reply");
}

message reply_to(const message& request, std::string payload) {
  message m(request.reply, std::move(payload));
  if (auto c = request.headers.get(header::correlation_id))
    m.headers.set(std::string(header::correlation_id), std::string(*c));
  return m;
}

}  // namespace ferry
