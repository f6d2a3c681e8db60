// Logging setup for ferry's programs, on spdlog.
//
// Libraries log through spdlog's default logger (spdlog::info(...)); programs call
// setup_logging() once at start-up to choose the level and the sink (stderr or a file).
#pragma once

#include <string>

#include "base/status.h"

namespace ferry {

enum class log_level { trace, debug, info, warn, error, off };

struct log_options {
  log_level level = log_level::info;
  std::string file;      // empty: stderr
  bool timestamps = true;
  std::string name = "ferry";
};

// Installs the default logger. Thread-safe loggers; call before starting threads.
status setup_logging(const log_options& options);

}  // namespace ferry
