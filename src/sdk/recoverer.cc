// The recoverer middleware (see middleware.h).
#include <spdlog/spdlog.h>

#include <exception>

#include "ferry/middleware.h"

namespace ferry::middleware {

handler_middleware recoverer() {
  return [](handler next, handler_info& info) -> handler {
    return [next = std::move(next), &info](message& m) -> outcome {
      try {
        return next(m);
      } catch (const std::exception& e) {
        spdlog::error("{}: handler threw on {} (subject {}, attempt {}): {}", info.name, m.id, m.subject, m.attempt(),
                      e.what());
        return outcome::retry(internal_error(e.what()));
      } catch (...) {
        spdlog::error("{}: handler threw a non-standard exception on {} (subject {}, attempt {})", info.name, m.id,
                      m.subject, m.attempt());
        return outcome::retry(internal_error("non-standard exception"));
      }
    };
  };
}

}  // namespace ferry::middleware
