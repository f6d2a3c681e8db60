// The dead letters of the shop on Redis: plain hiredis XRANGEs over the dlq.<service> streams,
// like the JetStream API reads the DLQ stream on NATS.
#include <hiredis/hiredis.h>

#include <memory>

#include "bus_probe.h"
#include "events.h"
#include "ferry/connect.h"
#include "ferry/message.h"

namespace shop::load {

ferry::result<std::vector<broker_probe::dead_letter>> redis_dead_letters(const std::string& url) {
  FERRY_ASSIGN_OR_RETURN(ferry::transport_url u, ferry::parse_transport_url(url));
  std::string host = u.hosts.empty() ? "127.0.0.1:6379" : u.hosts;
  host = host.substr(host.rfind('@') == std::string::npos ? 0 : host.rfind('@') + 1);
  host = host.substr(0, host.find('/'));
  const std::size_t colon = host.rfind(':');
  std::unique_ptr<redisContext, decltype(&redisFree)> c(
      redisConnect(host.substr(0, colon).c_str(),
                   colon == std::string::npos ? 6379 : std::atoi(host.c_str() + colon + 1)),
      &redisFree);
  if (!c || c->err != 0) return ferry::unavailable("redis at " + host + ": " + (c ? c->errstr : "no memory"));
  std::vector<broker_probe::dead_letter> out;
  for (const char* service : {"order", "inventory", "payment", "notification"}) {
    const std::string stream = std::string(subject::dlq_prefix) + service;
    const char* argv[] = {"XRANGE", stream.c_str(), "-", "+"};
    std::unique_ptr<redisReply, decltype(&freeReplyObject)> r(
        static_cast<redisReply*>(redisCommandArgv(c.get(), 4, argv, nullptr)), &freeReplyObject);
    if (!r) return ferry::unavailable("redis at " + host + ": " + c->errstr);
    if (r->type != REDIS_REPLY_ARRAY) continue;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* fields = r->element[i]->element[1];
      broker_probe::dead_letter d{.subject = stream};
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        const std::string_view name(fields->element[f]->str, fields->element[f]->len);
        const std::string value(fields->element[f + 1]->str, fields->element[f + 1]->len);
        if (name == ferry::header::dead_letter_subject) d.origin = value;
        if (name == ferry::header::dead_letter_reason) d.reason = value;
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace shop::load
