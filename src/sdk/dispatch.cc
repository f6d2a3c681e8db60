#include "sdk/dispatch.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "sdk/sleep.h"

namespace ferry::detail {

void handler_counters::count(settlement s) {
  switch (s) {
    case settlement::acked:
      acked.fetch_add(1, std::memory_order_relaxed);
      break;
    case settlement::nacked:
      retried.fetch_add(1, std::memory_order_relaxed);
      break;
    case settlement::terminated:
      dropped.fetch_add(1, std::memory_order_relaxed);
      break;
    case settlement::pending:
      break;
  }
}

namespace {

const std::string& name_of(const dispatch_env& env) {
  static const std::string unnamed = "handler";
  return env.name ? *env.name : unnamed;
}

// Publishes every output; stops at the first failure. Checks every subject before publishing
// anything, so a missing subject never leaves half the outputs published.
status publish_outputs(std::vector<message>& out, const dispatch_env& env) {
  const std::string empty;
  const std::string& fallback = env.publish_subject ? *env.publish_subject : empty;
  for (const message& o : out) {
    if (o.subject.empty() && fallback.empty())
      return failed_precondition("output message without a subject, and handler " + name_of(env) +
                                 " has no publish_subject");
  }
  for (message& o : out) {
    if (o.subject.empty()) o.subject = fallback;
    std::string subject = o.subject;
    status s = env.out->publish(std::move(o));
    if (!s.is_ok()) return s.with_context("publishing output to " + subject);
    env.counters->published.fetch_add(1, std::memory_order_relaxed);
  }
  return status::ok();
}

settlement kind_to_settlement(outcome::kind k) {
  switch (k) {
    case outcome::kind::ack:
      return settlement::acked;
    case outcome::kind::retry:
      return settlement::nacked;
    case outcome::kind::drop:
      return settlement::terminated;
  }
  return settlement::pending;
}

}  // namespace

void settle(message& m, outcome& o, const dispatch_env& env, const std::atomic<bool>* abandoned) {
  const settlement before = m.state();
  // Outputs go out when the handler asked for an ack, unless it already failed the message itself.
  if (o.is_ack() && !o.messages().empty() && before != settlement::nacked && before != settlement::terminated) {
    status s = publish_outputs(o.messages(), env);
    if (!s.is_ok()) {
      env.counters->publish_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("{}: {}; nacking {} (subject {})", name_of(env), s.to_string(), m.id, m.subject);
      o = outcome::retry(std::move(s));
    }
  }
  if (before != settlement::pending) {
    // The handler settled it itself; a router stop that nacked it counted it already.
    if (!(abandoned && abandoned->load(std::memory_order_acquire))) env.counters->count(before);
    return;
  }
  if (!m.is_delivered()) {
    // Nothing to settle (a message no transport delivered): count what the outcome asked for.
    env.counters->count(kind_to_settlement(o.what()));
    return;
  }
  bool settled_here = false;
  switch (o.what()) {
    case outcome::kind::ack:
      settled_here = m.ack();
      break;
    case outcome::kind::retry:
      if (o.delay().count() > 0 && !env.delayed_delivery) {
        // The transport cannot delay a redelivery: hold the message here for the delay instead
        // (ended early by a router stop), then nack it for immediate redelivery.
        sleep_for(o.delay(), env.stop);
        settled_here = m.nack();
      } else {
        settled_here = m.nack(o.delay());
      }
      break;
    case outcome::kind::drop:
      settled_here = m.term(o.why().to_string());
      break;
  }
  // Not settled here: a router stop nacked it meanwhile, and counted it.
  if (settled_here) env.counters->count(m.state());
}

void dispatch(message& m, const handler& chain, const dispatch_env& env, const std::atomic<bool>* abandoned) {
  outcome o = outcome::ack();
  try {
    o = chain(m);
  } catch (const std::exception& e) {
    env.counters->exceptions.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: handler threw on {} (subject {}): {}; nacking", name_of(env), m.id, m.subject, e.what());
    o = outcome::retry(internal_error(std::string("exception: ") + e.what()));
  } catch (...) {
    env.counters->exceptions.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: handler threw a non-standard exception on {} (subject {}); nacking", name_of(env), m.id,
                  m.subject);
    o = outcome::retry(internal_error("non-standard exception"));
  }
  if (abandoned && abandoned->load(std::memory_order_acquire)) {
    if (!o.messages().empty())
      spdlog::warn("{}: discarding {} outputs of {}: the router stopped and nacked it", name_of(env),
                   o.messages().size(), m.id);
    return;  // counted by the router when it nacked the message
  }
  settle(m, o, env, abandoned);
}

}  // namespace ferry::detail
