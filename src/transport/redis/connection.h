// connection: one hiredis connection of the Redis transport, with its commands as argument vectors
// (binary-safe), replies that free themselves, errors as ferry statuses, and reconnection.
//
// Not thread-safe: one thread at a time (the transport guards shared ones with a mutex).
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/subject_check.h"
#include "ferry/redis.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry::redis::detail {

struct reply_deleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply = std::unique_ptr<redisReply, reply_deleter>;

// A command's arguments; strings are copied only when they are temporaries (add_owned).
class args {
 public:
  args() {
    ptr_.reserve(16);  // an XADD with a few headers, without growing
    len_.reserve(16);
  }
  args(const args&) = delete;
  args& operator=(const args&) = delete;
  args& add(std::string_view s);  // `s` must outlive the command
  args& add_owned(std::string s);
  args& add(std::uint64_t n) { return add_owned(std::to_string(n)); }
  [[nodiscard]] int size() const { return static_cast<int>(ptr_.size()); }
  [[nodiscard]] const char** argv() { return ptr_.data(); }
  [[nodiscard]] const std::size_t* lens() const { return len_.data(); }
  void clear();

 private:
  std::vector<const char*> ptr_;
  std::vector<std::size_t> len_;
  // Owned strings stay where they are once pointed to: the first few in place (numbers, mostly:
  // no allocation), more in a deque.
  std::array<std::string, 4> small_;
  std::size_t small_used_ = 0;
  std::deque<std::string> more_;
};

// A reply's bytes as a string_view (empty for nil or non-string replies).
std::string_view text(const redisReply* r);

class connection {
 public:
  // Connects (to "host:port" or a Unix socket path), authenticates and selects the database.
  static result<std::unique_ptr<connection>> open(const std::string& address, const options& o, std::string_view name);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends one command and waits for its reply. An error reply is a status (invalid_argument for
  // a wrong command or type, failed_precondition for BUSYGROUP/NOGROUP..., with Redis's text); a
  // lost connection is unavailable (and reconnect() is due).
  result<reply> run(args& a);
  // Pipelining: queue commands, then read their replies in order.
  status append(args& a);
  result<reply> next_reply();
  // True once an I/O error broke the connection.
  [[nodiscard]] bool broken() const { return c_ == nullptr || c_->err != 0; }
  // Connects again (new socket, AUTH, SELECT, the read timeout).
  status reconnect();
  // How long a read may block at most before it fails (for BLOCK commands: their timeout + margin).
  void set_read_timeout(std::chrono::milliseconds t);

 private:
  connection(std::string address, options o, std::string name)
      : address_(std::move(address)), options_(std::move(o)), name_(std::move(name)) {}
  status connect();
  status io_error();

  const std::string address_;
  const options options_;
  const std::string name_;  // CLIENT SETNAME, as the server lists it
  redisContext* c_ = nullptr;
  std::chrono::milliseconds read_timeout_{0};
};

// The blocking reads (XREAD/XREADGROUP ... BLOCK) of one thread on one connection, and a stop that
// ends the read in progress at once: CLIENT UNBLOCK from a short connection of its own (the read
// returns as if it timed out: nothing read). Where the server refuses CLIENT to this user, or does
// not answer, the read ends by itself within options::block.
class blocking_reads {
 public:
  blocking_reads(std::string address, const options& o) : address_(std::move(address)), options_(o) {}
  // The reading thread, after each (re)connect of `c`: learns its client id.
  void connected(connection& c);
  // The reading thread: sends `a` on `c` and waits for its reply; a nil reply if stop() came first.
  result<reply> run(connection& c, args& a);
  // Any thread: from now on stopping() is true and no read blocks; the one in progress, if any,
  // is ended. Returns within about 2 x min(connect_timeout, block) + 50 ms, even when the server
  // does not answer.
  void stop() {
    blocking_reads* self = this;
    stop_all({&self, 1});
  }
  // stop() of several (of one server and options), together: one connection for all, one deadline.
  static void stop_all(std::span<blocking_reads* const> reads);
  [[nodiscard]] bool stopping() const { return stopping_.load(); }

 private:
  const std::string address_;
  const options options_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> reading_as_{-1};  // the connection's client id while a read is out
  std::int64_t client_id_ = -1;               // the reading thread's: -1 if the server did not tell
};

// OK when `subject` is a usable stream key: not empty, no whitespace or control bytes, and no
// wildcard token (invalid_argument naming the alternative); check_subject's rules for `use`.
status check_stream(std::string_view subject, subject_use use);

}  // namespace ferry::redis::detail
