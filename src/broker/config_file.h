// Config files in nats-server's syntax (see docs/configuration.md), applied onto
// server_options. Unknown keys and syntax errors are reported with file and line.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "broker/options.h"

namespace ferry::broker {

// Reads `path` and applies every setting in it onto `o`.
status load_config_file(const std::string& path, server_options& o);
// Applies config text; `origin` names it in errors ("ferryd.conf"). Includes are resolved
// relative to `base_dir`.
status apply_config_text(std::string_view text, const std::string& origin, const std::string& base_dir,
                         server_options& o);

}  // namespace ferry::broker
