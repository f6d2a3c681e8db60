// Config files in nats-server's syntax (see docs/configuration.md), applied onto
// server_options. Unknown keys and syntax errors are reported with file and line.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "broker/options.h"

namespace ferry::broker {

// Reads `path` and applies every setting in it onto `o`. On any error `o` is left unchanged;
// the status is io_error when `path` cannot be read, else invalid_argument with a message
// "<file>:<line>: ..." (an unknown key, a syntax error, a value of the wrong type).
status load_config_file(const std::string& path, server_options& o);
// Applies config text, as load_config_file; `origin` names it in errors ("ferryd.conf").
// Includes are resolved relative to `base_dir` (empty: the current directory).
status apply_config_text(std::string_view text, const std::string& origin, const std::string& base_dir,
                         server_options& o);

}  // namespace ferry::broker
