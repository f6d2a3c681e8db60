// connection_pool: the connections of one database object, shared by both backends. A
// transaction takes one (waiting up to the busy timeout while all `size` are in use) and gives it
// back when it ends; a connection is opened only when no idle one is left.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry::sql::detail {

template <class Connection>
class connection_pool {
 public:
  using connect_fn = std::function<result<std::unique_ptr<Connection>>()>;

  // `what` names the database in errors ("sqlite: ... /path").
  connection_pool(std::size_t size, std::chrono::milliseconds wait, std::string what, connect_fn connect)
      : size_(size), wait_(wait), what_(std::move(what)), connect_(std::move(connect)) {}

  // An idle connection that `usable` accepts (a rejected one is replaced by a new connection), or
  // a new one while fewer than `size` are open. unavailable after waiting `wait` for one.
  result<std::unique_ptr<Connection>> take(const std::function<bool(Connection&)>& usable = nullptr) {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < size_; })) {
        return unavailable(what_ + ": no free connection after " + std::to_string(wait_.count()) + " ms");
      }
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (c && usable && !usable(*c)) c.reset();
    if (!c) {
      auto made = connect_();
      if (!made.is_ok()) {
        give_back(nullptr);
        return made.status();
      }
      c = std::move(made).value();
    }
    return c;
  }

  // Returns a connection taken with take() (nullptr: it is gone, its slot is free again).
  void give_back(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(mu_);
      if (c) {
        idle_.push_back(std::move(c));
      } else {
        --open_;
      }
    }
    cv_.notify_one();
  }

  // Opens the first connection now, so a bad address fails at open and not at the first transaction.
  status prime() {
    FERRY_ASSIGN_OR_RETURN(auto c, take());
    give_back(std::move(c));
    return status::ok();
  }

 private:
  const std::size_t size_;
  const std::chrono::milliseconds wait_;
  const std::string what_;
  const connect_fn connect_;
  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // connections taken or idle
};

}  // namespace ferry::sql::detail
