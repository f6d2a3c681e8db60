#include "count_skipped.h"

#include <utility>

namespace shop {

namespace {
// Whether the handler behind the wrapped middleware was reached by the message this thread is
// handling. A chain runs on one thread per message, so a thread-local flag is enough.
thread_local bool reached = false;
}  // namespace

ferry::handler_middleware count_skipped(ferry::handler_middleware inner,
                                        std::function<void(const ferry::message&)> on_skipped) {
  return [inner = std::move(inner), on_skipped = std::move(on_skipped)](ferry::handler next,
                                                                        ferry::handler_info& info) -> ferry::handler {
    ferry::handler marked = [next = std::move(next)](ferry::message& m) {
      reached = true;
      return next(m);
    };
    ferry::handler wrapped = inner.wrap(std::move(marked), info);
    return [wrapped = std::move(wrapped), on_skipped](ferry::message& m) {
      reached = false;
      ferry::outcome o = wrapped(m);
      if (!reached && o.is_ack()) on_skipped(m);
      return o;
    };
  };
}

}  // namespace shop
