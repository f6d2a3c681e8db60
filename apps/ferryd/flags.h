// ferryd's command line: nats-server's flag names and syntax (Go's flag package: -flag or
// --flag, with the value as the next argument or after '='), parsed onto server_options.
// A config file (-c) is loaded first; flags given on the command line override it.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "broker/options.h"

namespace ferry::ferryd {

struct arguments {
  broker::server_options options;
  std::string config_file;
  bool help = false;
  bool version = false;
  bool test_config = false;  // -t: check the configuration and exit
};

// Parses argv (without argv[0]). Errors name the offending flag.
result<arguments> parse_arguments(const std::vector<std::string>& args);

// The text printed by --help.
std::string usage();

}  // namespace ferry::ferryd
