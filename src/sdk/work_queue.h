// work_queue: the bounded queue between one handler's delivery callback and its workers.
//
// ordering::none: a FIFO. ordering::per_key: one lane per key; a lane gives out its next message
// only after the previous one is done(), so one key runs one message at a time in arrival order
// while different keys run in parallel. Messages without a key are not ordered. Between lanes
// and unkeyed messages, the oldest waiting message goes first.
//
// Thread-safe: push() from transport threads, pop()/done() from workers, the rest from the
// router. push() blocks while `capacity` messages wait (back-pressure) until half of them were
// taken, or close().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferry/message.h"

namespace ferry::detail {

class work_queue {
 public:
  struct lane;
  // A message handed to a worker; give it back with done().
  struct item {
    message msg;
    lane* from = nullptr;  // per_key: the lane it came from
  };

  // REQUIRES: capacity > 0.
  work_queue(std::size_t capacity, bool per_key);
  ~work_queue();
  work_queue(const work_queue&) = delete;
  work_queue& operator=(const work_queue&) = delete;

  // Queues `m` (moved from only on success). Blocks while full; false once closed.
  bool push(message& m);
  // The next message that may run; blocks until there is one. nullopt once closed (messages
  // still queued stay for drain()).
  std::optional<item> pop();
  // Marks a popped item finished: its key may run its next message.
  void done(const item& it);
  // Wakes everyone: push() fails, pop() returns nullopt from now on.
  void close();
  // Removes and returns every queued (not running) message.
  std::vector<message> drain();
  // Waits until no popped item is outstanding or `deadline`; true when none is.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] std::size_t running() const;

  // The ordering key of `m`: its key, else its Ferry-Key header; empty: none.
  static std::string_view key_of(const message& m);

  struct lane {
    std::string key;
    std::deque<std::pair<std::uint64_t, message>> pending;  // (arrival number, message)
    bool busy = false;                                      // one of its messages is running
  };

 private:
  bool has_ready() const;

  const std::size_t capacity_;
  const bool per_key_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable not_empty_, not_full_, idle_;
  bool closed_ = false;
  std::size_t queued_ = 0, running_ = 0;
  std::uint64_t arrivals_ = 0;
  std::deque<std::pair<std::uint64_t, message>> free_;            // unkeyed messages (all of them for none)
  std::unordered_map<std::string, std::unique_ptr<lane>> lanes_;  // per_key: busy or waiting lanes
  std::deque<lane*> ready_;                                       // lanes that are not busy and have a message waiting
};

}  // namespace ferry::detail
