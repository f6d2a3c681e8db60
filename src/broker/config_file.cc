#include "broker/config_file.h"

namespace ferry::broker {

status load_config_file(const std::string& path, server_options&) {
  return status(status_code::unimplemented, "config files are not supported yet: " + path);
}

status apply_config_text(std::string_view, const std::string& origin, const std::string&, server_options&) {
  return status(status_code::unimplemented, "config files are not supported yet: " + origin);
}

}  // namespace ferry::broker
