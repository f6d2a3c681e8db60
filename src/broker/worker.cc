#include "broker/worker.h"

#include <asio/executor_work_guard.hpp>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include "broker/connection.h"

namespace ferry::broker {

namespace {
thread_local worker* current_worker = nullptr;
}  // namespace

worker::worker(const sublist& sl, int index) : index_(index), cache_(sl) {}

worker::~worker() { stop(); }

worker* worker::current() { return current_worker; }

void worker::start(int pin_cpu) {
  started_ = true;
  pin_ = pin_cpu >= 0;
  pin_cpu_ = pin_cpu;
  thread_ = std::thread([this] {
    current_worker = this;
    if (pin_) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(pin_cpu_, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    auto guard = asio::make_work_guard(io_);
    for (;;) {
      try {
        io_.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw: a bug. Log it and keep serving the other connections.
        spdlog::error("worker {}: unhandled exception: {}", index_, e.what());
      }
    }
    current_worker = nullptr;
  });
}

void worker::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void worker::release_state() {
  cache_.clear();
  flushes_.clear();
  flushing_.clear();
  congested_.clear();
}

void worker::run_flushes() {
  // A flush may deliver nothing new, but a write completing inline could in principle schedule
  // again; swap so that the loop runs over a stable list.
  while (!flushes_.empty()) {
    flushing_.swap(flushes_);
    for (auto& c : flushing_) c->flush(this);
    flushing_.clear();
  }
}

}  // namespace ferry::broker
