// status: the outcome of an operation that can fail, as a small code plus a message.
//
// Modules never throw across their API; they return a `status` (or a `result<T>`, see
// result.h). Codes are few and canonical, like Abseil's: callers branch on the code, humans read
// the message. A default-constructed status is OK and costs one byte plus an empty string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ferry {

enum class status_code : std::uint8_t {
  ok = 0,
  invalid_argument,     // the caller passed something malformed
  not_found,            // the named thing does not exist
  already_exists,       // the named thing exists and may not be replaced
  permission_denied,    // authenticated but not allowed
  unauthenticated,      // credentials missing or wrong
  resource_exhausted,   // a limit was reached (payload, connections, memory)
  failed_precondition,  // the system is not in the state the operation needs
  unavailable,          // try again later (server down, connection lost)
  deadline_exceeded,    // a timeout expired
  data_loss,            // stored data is corrupt or missing
  io_error,             // the operating system reported an error
  cancelled,            // the operation was stopped on purpose
  unimplemented,        // not supported
  internal,             // a bug: an invariant broke
};

// Returns the lower-case name of `code`, e.g. "not_found".
std::string_view to_string(status_code code);

class [[nodiscard]] status {
 public:
  status() = default;
  status(status_code code, std::string message) : code_(code), message_(std::move(message)) {}

  static status ok() { return {}; }

  [[nodiscard]] bool is_ok() const { return code_ == status_code::ok; }
  explicit operator bool() const { return is_ok(); }
  [[nodiscard]] status_code code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  // "not_found: stream ORDERS", or "ok".
  [[nodiscard]] std::string to_string() const;

  // Returns this status with `context` prepended to its message ("opening x: ...").
  [[nodiscard]] status with_context(std::string_view context) const;

  friend bool operator==(const status& a, const status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  status_code code_ = status_code::ok;
  std::string message_;
};

inline status invalid_argument(std::string m) { return {status_code::invalid_argument, std::move(m)}; }
inline status not_found(std::string m) { return {status_code::not_found, std::move(m)}; }
inline status already_exists(std::string m) { return {status_code::already_exists, std::move(m)}; }
inline status failed_precondition(std::string m) { return {status_code::failed_precondition, std::move(m)}; }
inline status resource_exhausted(std::string m) { return {status_code::resource_exhausted, std::move(m)}; }
inline status unavailable(std::string m) { return {status_code::unavailable, std::move(m)}; }
inline status io_error(std::string m) { return {status_code::io_error, std::move(m)}; }
inline status data_loss(std::string m) { return {status_code::data_loss, std::move(m)}; }
inline status internal_error(std::string m) { return {status_code::internal, std::move(m)}; }
inline status deadline_exceeded(std::string m) { return {status_code::deadline_exceeded, std::move(m)}; }
inline status permission_denied(std::string m) { return {status_code::permission_denied, std::move(m)}; }

// A status for errno `err`, e.g. "open /x: No such file or directory": resource_exhausted for a
// full disk or quota (ENOSPC, EDQUOT), io_error for the rest.
status errno_status(std::string_view what, int err);
// True for a status errno_status() made from ENOSPC or EDQUOT (also after with_context()):
// a full disk, as opposed to a limit of ours (also resource_exhausted).
bool is_disk_full(const status& s);

}  // namespace ferry

// Evaluates `expr` (a status); returns it from the enclosing function unless it is OK.
#define FERRY_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::ferry::status ferry_status_ = (expr);      \
    if (!ferry_status_.is_ok()) return ferry_status_; \
  } while (0)
