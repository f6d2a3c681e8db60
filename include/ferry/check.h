// FERRY_CHECK: aborts the process when a programmer's invariant is broken.
//
// Not for input validation (return a status for that): a failed check is a bug in ferry.
// Checks stay on in release builds; they guard the few places where going on would corrupt data.
#pragma once

namespace ferry::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* msg);
}  // namespace ferry::detail

#define FERRY_CHECK(cond)                                                          \
  do {                                                                             \
    if (__builtin_expect(!(cond), 0))                                              \
      ::ferry::detail::check_failed(#cond, __FILE__, __LINE__, nullptr);           \
  } while (0)

#define FERRY_CHECK_MSG(cond, msg)                                                 \
  do {                                                                             \
    if (__builtin_expect(!(cond), 0))                                              \
      ::ferry::detail::check_failed(#cond, __FILE__, __LINE__, (msg));             \
  } while (0)
