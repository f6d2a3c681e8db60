#include "broker/worker.h"

#include <asio/executor_work_guard.hpp>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include "broker/connection.h"

namespace ferry::broker {

namespace {
thread_local worker* current_worker = nullptr;
constexpr std::size_t max_round = 32;  // handlers between two flushes
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
        run_loop();
        break;
      } catch (const std::exception& e) {
        // A handler threw: a bug. Log it and keep serving the other connections.
        spdlog::error("worker {}: unhandled exception: {}", index_, e.what());
      }
    }
    current_worker = nullptr;
  });
}

void worker::run_loop() {
  // Output staged by the handlers of one round (every handler that was ready) is flushed once
  // at the end of the round: a destination written to by many publishers in the same round gets
  // one write, not one per publisher (nats-server's readLoop flushes its clients the same way).
  //
  // Before sleeping in epoll, a worker that is streaming (it just read a large batch) keeps
  // polling for a short while: the next batch usually arrives within microseconds, and catching
  // it by polling is cheaper than a sleep and a wake-up (on a virtual machine, an interrupt).
  // Go's scheduler, and so nats-server, spins the same way before parking a thread. A worker
  // that only handles small events sleeps at once, leaving the core to others.
  while (!io_.stopped()) {
    // A round is every ready handler, but at most max_round of them: under a steady stream
    // reads complete back to back and the queue would never empty.
    std::size_t ran = 0;
    while (ran < max_round && io_.poll_one() > 0) ++ran;
    if (ran > 0) {
      run_flushes();
      continue;
    }
    if (streaming_ && spin_.count() > 0) {
      streaming_ = false;
      const auto until = std::chrono::steady_clock::now() + spin_;
      bool worked = false;
      while (!io_.stopped() && std::chrono::steady_clock::now() < until) {
        if (io_.poll() > 0) {
          worked = true;
          break;
        }
      }
      if (worked) {
        run_flushes();
        continue;
      }
    }
    io_.run_one();
    run_flushes();
  }
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
  round_tasks_.clear();
  running_tasks_.clear();
}

void worker::run_flushes() {
  while (!round_tasks_.empty()) {
    running_tasks_.swap(round_tasks_);
    for (auto& t : running_tasks_) t->run(*this);
    running_tasks_.clear();
  }
  // A flush may deliver nothing new, but a write completing inline could in principle schedule
  // again; swap so that the loop runs over a stable list.
  while (!flushes_.empty()) {
    flushing_.swap(flushes_);
    for (auto& c : flushing_) c->flush(this);
    flushing_.clear();
  }
}

}  // namespace ferry::broker
