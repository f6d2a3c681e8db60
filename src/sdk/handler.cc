#include "ferry/handler.h"

namespace ferry {

std::string_view to_string(outcome::kind k) {
  switch (k) {
    case outcome::kind::ack:
      return "ack";
    case outcome::kind::retry:
      return "retry";
    case outcome::kind::drop:
      return "drop";
  }
  return "unknown";
}

handler compose(handler h, const std::vector<handler_middleware>& chain, handler_info& info) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) h = it->wrap(std::move(h), info);
  return h;
}

}  // namespace ferry
