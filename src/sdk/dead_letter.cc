// The dead_letter middleware (see middleware.h).
#include <spdlog/spdlog.h>

#include "base/rfc3339.h"
#include "ferry/middleware.h"

namespace ferry::middleware {

namespace {

struct dead_letter_sink {
  // Publishes the dead letter of `m`; the outcome that replaces the drop.
  outcome send(message& m, const status& why, const std::string& handler_name) const {
    message dl = m.copy_content();
    dl.subject = subject;
    // The same id for every delivery of `m` to this handler: when a crash falls between this
    // publish and the ack of `m`, the redelivery's dead letter is a duplicate that a stream drops
    // (JetStream's duplicate window), not a second letter. Another handler writes its own.
    if (!m.id.empty()) dl.id = handler_name + ":" + m.id;
    dl.headers.set(std::string(header::dead_letter_reason), why.to_string());
    dl.headers.set(std::string(header::dead_letter_subject), m.subject);
    dl.headers.set(std::string(header::dead_letter_deliveries), std::to_string(m.attempt()));
    dl.headers.set(std::string(header::dead_letter_handler), handler_name);
    dl.headers.set(std::string(header::dead_letter_time), format_rfc3339(std::chrono::system_clock::now()));
    status s = out->publish(std::move(dl));
    if (!s.is_ok()) {
      spdlog::warn("{}: dead letter of {} to {} failed: {}; nacking it", handler_name, m.id, subject, s.to_string());
      return outcome::retry(s.with_context("publishing dead letter to " + subject));
    }
    spdlog::info("{}: dead-lettered {} (subject {}) to {} after {} attempts: {}", handler_name, m.id, m.subject,
                 subject, m.attempt(), why.to_string());
    return outcome::ack();
  }

  publisher* out;
  std::string subject;
  dead_letter_options options;
};

}  // namespace

handler_middleware dead_letter(publisher& out, std::string subject, dead_letter_options options) {
  auto sink = std::make_shared<const dead_letter_sink>(dead_letter_sink{&out, std::move(subject), options});
  return [sink](handler next, handler_info& info) -> handler {
    info.dead_letter = [sink, &info](message& m, const status& why) { return sink->send(m, why, info.name); };
    return [sink, next = std::move(next), &info](message& m) -> outcome {
      outcome o = next(m);
      if (m.state() != settlement::pending) return o;
      if (o.is_drop()) return sink->send(m, o.why(), info.name);
      const std::uint64_t max = sink->options.max_deliveries;
      if (o.is_retry() && !info.retry_owned && max > 0 && m.delivery.delivery_count >= max)
        return sink->send(m, o.why(), info.name);
      return o;
    };
  };
}

}  // namespace ferry::middleware
