// The timeout middleware (see middleware.h).
#include <string>

#include "ferry/middleware.h"

namespace ferry::middleware {

namespace {

// Restores message.deadline when the handler returns or throws.
class deadline_scope {
 public:
  deadline_scope(message& m, std::chrono::steady_clock::time_point deadline) : m_(m), outer_(m.deadline) {
    m.deadline = std::min(outer_, deadline);
  }
  ~deadline_scope() { m_.deadline = outer_; }
  deadline_scope(const deadline_scope&) = delete;
  deadline_scope& operator=(const deadline_scope&) = delete;

 private:
  message& m_;
  std::chrono::steady_clock::time_point outer_;
};

}  // namespace

handler_middleware timeout(std::chrono::milliseconds limit) {
  return [limit](handler next) -> handler {
    return [limit, next = std::move(next)](message& m) -> outcome {
      const auto start = std::chrono::steady_clock::now();
      const auto deadline = start + limit;
      outcome o = outcome::ack();
      {
        deadline_scope scope(m, deadline);
        o = next(m);
      }
      if (m.state() != settlement::pending || o.is_drop()) return o;
      const auto now = std::chrono::steady_clock::now();
      if (now < deadline) return o;
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      return outcome::retry(deadline_exceeded("handler took " + std::to_string(took.count()) + "ms, over its " +
                                              std::to_string(limit.count()) + "ms timeout"));
    };
  };
}

}  // namespace ferry::middleware
