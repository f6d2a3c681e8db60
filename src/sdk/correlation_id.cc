// The correlation_id middleware (see middleware.h).
#include "ferry/middleware.h"

namespace ferry::middleware {

handler_middleware correlation_id() {
  return [](handler next) -> handler {
    return [next = std::move(next)](message& m) -> outcome {
      if (!m.headers.contains(header::correlation_id)) m.headers.set(std::string(header::correlation_id), new_id());
      outcome o = next(m);
      if (o.messages().empty()) return o;
      const std::string id = m.headers.value_or(header::correlation_id, "");
      for (message& out : o.messages())
        if (!out.headers.contains(header::correlation_id)) out.headers.set(std::string(header::correlation_id), id);
      return o;
    };
  };
}

}  // namespace ferry::middleware
