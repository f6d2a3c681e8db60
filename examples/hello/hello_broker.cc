// ferryd inside the program (ferry/broker.h) and the JetStream transport against it: a message
// stored in a stream and received back.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <future>

#include "ferry/broker.h"
#include "ferry/jetstream.h"

int main() {
  spdlog::set_level(spdlog::level::warn);  // the broker logs through the application's spdlog
  const auto dir = std::filesystem::temp_directory_path() / ("hello-broker-" + std::to_string(::getpid()));
  auto broker = ferry::embedded_broker::start({.jetstream = true, .store_dir = dir.string()});
  if (!broker.is_ok()) {
    std::fprintf(stderr, "%s\n", broker.status().to_string().c_str());
    return 1;
  }
  ferry::jetstream::options o;
  o.streams = {{.name = "HELLO", .subjects = {"hello.>"}}};
  auto js = ferry::jetstream::connect((*broker)->client_url(), o);
  if (!js.is_ok()) {
    std::fprintf(stderr, "%s\n", js.status().to_string().c_str());
    return 1;
  }
  if (!(*js)->publish(ferry::message("hello.world", "stored")).is_ok()) return 1;
  std::promise<std::string> got;
  auto sub = (*js)->subscribe("hello.world", {}, [&](ferry::message m) {
    m.ack();
    got.set_value(m.payload + " in stream HELLO at sequence " + std::to_string(m.delivery.stream_sequence));
  });
  if (!sub.is_ok()) return 1;
  auto f = got.get_future();
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return 1;
  std::printf("%s\n", f.get().c_str());
  (*sub)->stop();
  (*js)->close();
  (*broker)->shutdown();
  std::filesystem::remove_all(dir);
  return 0;
}
