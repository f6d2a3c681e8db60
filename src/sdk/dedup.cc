// The dedup middleware (see middleware.h) and its default key.
#include "ferry/dedup.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "ferry/middleware.h"
#include "sdk/text.h"

namespace ferry::middleware {

std::string default_dedup_key(const message& m) {
  if (auto id = m.headers.get(header::message_id); id && !id->empty()) return std::string(*id);
  if (auto id = detail::header_ci(m.headers, "ce-id"); id && !id->empty()) return std::string(*id);
  if (auto ct = detail::header_ci(m.headers, header::content_type); ct && detail::is_structured_cloudevent(*ct)) {
    auto j = nlohmann::json::parse(m.payload, nullptr, false);
    if (j.is_object()) {
      auto it = j.find("id");
      if (it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) return it->get<std::string>();
    }
  }
  return m.id;
}

namespace {

struct deduplicator {
  outcome handle(message& m) const {
    std::string key = options.key ? options.key(m) : default_dedup_key(m);
    if (key.empty()) return next(m);
    auto r = store->reserve(key, options.in_flight_ttl);
    if (!r.is_ok()) {
      spdlog::warn("{}: dedup store failed for {}: {}; retrying", *name, key, r.status().to_string());
      return outcome::retry(r.status(), options.in_flight_retry);
    }
    switch (*r) {
      case dedup_store::reservation::duplicate:
        spdlog::debug("{}: duplicate {} acked without handling", *name, key);
        return outcome::ack();
      case dedup_store::reservation::in_flight:
        return outcome::retry(already_exists("a duplicate of " + key + " is being handled"), options.in_flight_retry);
      case dedup_store::reservation::reserved:
        break;
    }
    outcome o = outcome::ack();
    try {
      o = next(m);
    } catch (...) {
      release(key);
      throw;  // for the recoverer or the router to log
    }
    finish(m, o, std::move(key));
    return o;
  }

  // Commits the key once the message is acked (the router acks after publishing its outputs);
  // releases it otherwise.
  void finish(message& m, const outcome& o, std::string key) const {
    const settlement now = m.state();
    const bool may_ack = now == settlement::acked || (now == settlement::pending && o.is_ack());
    if (!may_ack) return release(key);
    if (!m.is_delivered()) return commit(store, key, options.ttl);  // nothing will settle it: done now
    m.on_settled([store = store, ttl = options.ttl, key = std::move(key)](settlement s) {
      if (s == settlement::acked) {
        commit(store, key, ttl);
      } else {
        release(store, key);
      }
    });
  }

  void release(const std::string& key) const { release(store, key); }
  static void commit(dedup_store* store, const std::string& key, std::chrono::milliseconds ttl) {
    if (status s = store->commit(key, ttl); !s.is_ok())
      spdlog::warn("dedup commit of {} failed: {}", key, s.to_string());
  }
  static void release(dedup_store* store, const std::string& key) {
    if (status s = store->release(key); !s.is_ok()) spdlog::warn("dedup release of {} failed: {}", key, s.to_string());
  }

  dedup_store* store;
  dedup_options options;
  handler next;
  const std::string* name;
};

}  // namespace

handler_middleware dedup(dedup_store& store, dedup_options options) {
  return [&store, options = std::move(options)](handler next, handler_info& info) -> handler {
    auto d = std::make_shared<const deduplicator>(deduplicator{&store, options, std::move(next), &info.name});
    return [d](message& m) { return d->handle(m); };
  };
}

}  // namespace ferry::middleware
