// transport_testing: what the transports' own tests (tests/kafka, tests/redis, tests/rabbitmq)
// share: waiting for a condition, a thread-safe record of deliveries, and reading a child's output.
#pragma once

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ferry/message.h"
#include "ferry/transport.h"

namespace ferry::test {

// Waits up to `timeout` for `pred` (checked every 5 ms).
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// The lines of `s`.
inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The whole file at `path` ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Thread-safe record of deliveries.
class recorder {
 public:
  // Records and acks every delivery.
  delivery_callback acking() {
    return [this](message m) {
      m.ack();
      add(m);
    };
  }
  void add(const message& m) {
    std::lock_guard lock(mu_);
    all_.push_back(m);
    ids_.insert(m.id);
  }
  std::vector<message> all() {
    std::lock_guard lock(mu_);
    return all_;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return all_.size();
  }
  // Distinct message ids seen.
  std::size_t unique() {
    std::lock_guard lock(mu_);
    return ids_.size();
  }
  std::set<std::string> payloads() {
    std::set<std::string> out;
    for (const message& m : all()) out.insert(m.payload);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<message> all_;
  std::set<std::string> ids_;
};

}  // namespace ferry::test
