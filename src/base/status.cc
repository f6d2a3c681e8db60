#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace ferry {

std::string_view to_string(status_code code) {
  switch (code) {
    case status_code::ok: return "ok";
    case status_code::invalid_argument: return "invalid_argument";
    case status_code::not_found: return "not_found";
    case status_code::already_exists: return "already_exists";
    case status_code::permission_denied: return "permission_denied";
    case status_code::unauthenticated: return "unauthenticated";
    case status_code::resource_exhausted: return "resource_exhausted";
    case status_code::failed_precondition: return "failed_precondition";
    case status_code::unavailable: return "unavailable";
    case status_code::deadline_exceeded: return "deadline_exceeded";
    case status_code::data_loss: return "data_loss";
    case status_code::io_error: return "io_error";
    case status_code::cancelled: return "cancelled";
    case status_code::unimplemented: return "unimplemented";
    case status_code::internal: return "internal";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (is_ok()) return "ok";
  std::string s(ferry::to_string(code_));
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

status status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return {code_, std::move(m)};
}

status errno_status(std::string_view what, int err) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  const bool full = err == ENOSPC || err == EDQUOT;
  return {full ? status_code::resource_exhausted : status_code::io_error, std::move(m)};
}

bool is_disk_full(const status& s) {
  if (s.code() != status_code::resource_exhausted) return false;
  const std::string_view m = s.message();
  return m.ends_with(std::strerror(ENOSPC)) || m.ends_with(std::strerror(EDQUOT));
}

}  // namespace ferry
