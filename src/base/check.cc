#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace ferry::detail {

void check_failed(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "FERRY_CHECK failed at %s:%d: %s%s%s\n", file, line, expr, msg ? ": " : "",
               msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace ferry::detail
