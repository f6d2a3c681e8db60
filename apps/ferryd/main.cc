// ferryd: the broker daemon. Parses flags and the config file, starts the broker, and shuts
// it down gracefully on SIGINT or SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "base/logging.h"
#include "broker/server.h"
#include "flags.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = ferry::ferryd::parse_arguments(args);
  if (!parsed.is_ok()) {
    std::fprintf(stderr, "ferryd: %s\n", parsed.status().message().c_str());
    return 1;
  }
  if (parsed->help) {
    std::fputs(ferry::ferryd::usage().c_str(), stdout);
    return 0;
  }
  if (parsed->version) {
    std::printf("ferryd: v%s (NATS protocol compatible with nats-server v%s)\n", ferry::broker::ferryd_version,
                ferry::broker::nats_compat_version);
    return 0;
  }
  ferry::broker::server_options& o = parsed->options;
  if (parsed->test_config) {
    // As nats-server -t: everything a start would check before binding ports, then exit.
    for (const std::string& w : o.config_warnings) std::fprintf(stderr, "ferryd: warning: %s\n", w.c_str());
    if (std::string err = ferry::broker::validate(o); !err.empty()) {
      std::fprintf(stderr, "ferryd: %s\n", err.c_str());
      return 1;
    }
    std::printf("ferryd: configuration %s is valid\n",
                parsed->config_file.empty() ? "(flags only)" : ("file " + parsed->config_file).c_str());
    return 0;
  }
  o.log.name = "ferryd";
  if (auto s = ferry::setup_logging(o.log); !s.is_ok()) {
    std::fprintf(stderr, "ferryd: %s\n", s.message().c_str());
    return 1;
  }
  // Keep freed memory in the allocator instead of returning it to the kernel at every free:
  // connection buffers are freed and reused constantly, and each return (madvise) costs page
  // faults when the memory is touched again.
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
  // Block the signals before any thread starts, so that only sigwait() below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::info("Starting ferryd v{}", ferry::broker::ferryd_version);
  if (!parsed->config_file.empty()) spdlog::info("Using configuration file: {}", parsed->config_file);
  for (const std::string& w : o.config_warnings) spdlog::warn("{}", w);
  auto srv = ferry::broker::server::start(o);
  if (!srv.is_ok()) {
    spdlog::error("{}", srv.status().message());
    std::fprintf(stderr, "ferryd: %s\n", srv.status().message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("Trapped \"{}\" signal", sig == SIGINT ? "interrupt" : "terminated");
  (*srv)->shutdown();
  return 0;
}
