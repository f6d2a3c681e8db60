// Running the ferry and ferryd binaries from the CLI tests: a command line's exit code and
// output, and the paths of the binaries next to the test.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "process.h"

namespace ferry::test {

struct run_result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `cmd` with sh, stderr into stdout, standard input empty (/dev/null) unless `cmd` pipes
// something in: ferry pub and request read their payload from it when none is given.
inline run_result run(const std::string& cmd) {
  run_result r;
  FILE* p = ::popen(("(" + cmd + ") </dev/null 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A binary built next to ferryd (ferry).
inline std::string bin(const std::string& name) {
  return (std::filesystem::path(ferryd_path()).parent_path() / name).string();
}

}  // namespace ferry::test
