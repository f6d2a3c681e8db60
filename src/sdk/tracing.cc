#include "ferry/tracing.h"

#include "ferry/handler.h"
#include "ferry/middleware.h"
#include "sdk/random.h"

namespace ferry {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void put_hex(std::string& out, std::uint64_t v) {
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xf];
}

// Reads exactly 2*bytes lower-case hex digits.
bool read_hex(std::string_view s, std::uint64_t& out) {
  out = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    out = (out << 4) | static_cast<std::uint64_t>(d);
  }
  return true;
}

std::uint64_t nonzero_random() {
  for (;;)
    if (std::uint64_t v = detail::thread_rng()(); v != 0) return v;
}

// The span the tracing middleware runs on this thread, if any.
thread_local const span_context* current_span = nullptr;

}  // namespace

std::string trace_id::to_hex() const {
  std::string s;
  s.reserve(32);
  put_hex(s, high);
  put_hex(s, low);
  return s;
}

std::string span_id::to_hex() const {
  std::string s;
  s.reserve(16);
  put_hex(s, value);
  return s;
}

std::optional<span_context> parse_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags, and for versions after 00 maybe "-" more.
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  std::uint64_t version, hi, lo, span, flags;
  if (!read_hex(v.substr(0, 2), version) || version == 0xff) return std::nullopt;
  if (version == 0 && v.size() != 55) return std::nullopt;
  if (version != 0 && v.size() > 55 && v[55] != '-') return std::nullopt;
  if (!read_hex(v.substr(3, 16), hi) || !read_hex(v.substr(19, 16), lo) || !read_hex(v.substr(36, 16), span) ||
      !read_hex(v.substr(53, 2), flags))
    return std::nullopt;
  span_context c;
  c.trace_id = {hi, lo};
  c.span_id = {span};
  c.flags = static_cast<std::uint8_t>(flags);
  if (!c.trace_id.valid() || !c.span_id.valid()) return std::nullopt;
  return c;
}

std::string format_traceparent(const span_context& c) {
  std::string s;
  s.reserve(55);
  s += "00-";
  put_hex(s, c.trace_id.high);
  put_hex(s, c.trace_id.low);
  s += '-';
  put_hex(s, c.span_id.value);
  s += '-';
  s += kHex[(c.flags >> 4) & 0xf];
  s += kHex[c.flags & 0xf];
  return s;
}

void memory_exporter::export_span(span s) {
  std::lock_guard lock(mu_);
  spans_.push_back(std::move(s));
}

std::vector<span> memory_exporter::spans() const {
  std::lock_guard lock(mu_);
  return spans_;
}

void memory_exporter::clear() {
  std::lock_guard lock(mu_);
  spans_.clear();
}

tracer::tracer(std::shared_ptr<span_exporter> exporter) : exporter_(std::move(exporter)) {}

span tracer::start(std::string name, const span_context* parent) const {
  span s;
  if (parent && parent->trace_id.valid()) {
    s.trace_id = parent->trace_id;
    s.parent_span_id = parent->span_id;
  } else {
    s.trace_id = {detail::thread_rng()(), nonzero_random()};
  }
  s.span_id = {nonzero_random()};
  s.name = std::move(name);
  s.start = std::chrono::system_clock::now();
  return s;
}

void tracer::finish(span s) const {
  s.end = std::chrono::system_clock::now();
  if (exporter_) exporter_->export_span(std::move(s));
}

std::string current_traceparent() { return current_span ? format_traceparent(*current_span) : std::string(); }

const span_context* current_span_context() { return current_span; }

const span_context* exchange_current_span(const span_context* c) { return std::exchange(current_span, c); }

current_span_scope::current_span_scope(const span_context* c) : outer_(current_span) { current_span = c; }
current_span_scope::~current_span_scope() { current_span = outer_; }

namespace middleware {

namespace {

struct traced_handler {
  outcome handle(message& m) const {
    std::optional<span_context> incoming;
    if (auto tp = m.headers.get(header::traceparent)) incoming = parse_traceparent(*tp);
    span s = t->start(name, incoming ? &*incoming : nullptr);
    s.system = m.delivery.transport;
    s.destination = m.subject;
    s.message_id = m.id;
    s.saga_id = m.headers.value_or("Ferry-Saga-Id", "");
    s.correlation_id = m.headers.value_or(header::correlation_id, "");
    s.consumer_group = info->group;
    s.handler = info->name;
    s.attempt = m.attempt();
    span_context mine{s.trace_id, s.span_id, incoming ? incoming->flags : std::uint8_t{1}, {}};
    if (incoming)
      if (auto ts = m.headers.get(header::tracestate)) mine.tracestate = *ts;
    outcome o = outcome::ack();
    try {
      current_span_scope scope(&mine);
      o = next(m);
    } catch (...) {
      s.outcome = "exception";
      s.error = internal_error("exception");
      t->finish(std::move(s));
      throw;  // for the recoverer or the router to log
    }
    if (!o.messages().empty()) {
      const std::string tp = format_traceparent(mine);
      for (message& out : o.messages()) {
        out.headers.set(std::string(header::traceparent), tp);
        if (!mine.tracestate.empty()) out.headers.set(std::string(header::tracestate), mine.tracestate);
      }
    }
    s.outcome = to_string(o.what());
    s.error = o.why();
    t->finish(std::move(s));
    return o;
  }

  tracer* t;
  handler_info* info;
  std::string name;
  handler next;
};

}  // namespace

handler_middleware tracing(tracer& t) {
  return [&t](handler next, handler_info& info) -> handler {
    auto h =
        std::make_shared<const traced_handler>(traced_handler{&t, &info, "process " + info.subject, std::move(next)});
    return [h](message& m) { return h->handle(m); };
  };
}

}  // namespace middleware
}  // namespace ferry
