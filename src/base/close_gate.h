// close_gate: a transport's close() that runs once, where a second caller waits until the first
// has finished (so that no callback runs after any close() returned), unless the second caller
// runs one of the transport's callbacks, which the first may be waiting for: that one returns at
// once. A close() made inside a callback finishes when that callback has returned (its own
// subscription stopped without waiting for it). callback_scope marks the threads that run a
// transport's callbacks.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

namespace ferry::detail {

// While it lives, the current thread runs a callback of `owner` (a transport). Scopes nest (a
// handler that publishes on an in-process transport runs another's callback inside its own).
class callback_scope {
 public:
  explicit callback_scope(const void* owner) : owner_(owner), outer_(innermost_) { innermost_ = this; }
  ~callback_scope() {
    innermost_ = outer_;
    if (at_exit_) at_exit_();
  }
  callback_scope(const callback_scope&) = delete;
  callback_scope& operator=(const callback_scope&) = delete;

  // True when the current thread runs a callback of `owner`, at any depth.
  static bool inside(const void* owner) { return find(owner) != nullptr; }
  // Runs `f` once the innermost callback of `owner` on this thread has returned; false (and `f`
  // not kept) when the thread runs none.
  template <class F>
  static bool at_exit(const void* owner, F f) {
    callback_scope* s = find(owner);
    if (s == nullptr) return false;
    if (s->at_exit_) {
      s->at_exit_ = [first = std::move(s->at_exit_), f = std::move(f)]() mutable {
        first();
        f();
      };
    } else {
      s->at_exit_ = std::move(f);
    }
    return true;
  }

 private:
  static callback_scope* find(const void* owner) {
    for (callback_scope* s = innermost_; s != nullptr; s = s->outer_) {
      if (s->owner_ == owner) return s;
    }
    return nullptr;
  }
  const void* owner_;
  callback_scope* outer_;
  std::function<void()> at_exit_;
  static inline thread_local callback_scope* innermost_ = nullptr;
};

// `f` run inside a callback_scope of `owner` (for the delivery callback a transport keeps).
template <class F>
auto scoped_callback(const void* owner, F f) {
  return [owner, f = std::move(f)](auto&&... args) mutable {
    const callback_scope scope(owner);
    return f(std::forward<decltype(args)>(args)...);
  };
}

class close_gate {
 public:
  // True for the first caller, which closes and then calls finish() (or finished()). A later
  // caller gets false, once the first has finished, or at once when `must_not_wait` (it runs a
  // callback of the transport, which the closing thread may be waiting for).
  bool begin(bool must_not_wait) {
    std::unique_lock lock(mu_);
    if (state_ == state::open) {
      state_ = state::closing;
      return true;
    }
    if (!must_not_wait) done_.wait(lock, [&] { return state_ == state::closed; });
    return false;
  }
  // Ends the close of `owner` begun with begin(): at once, or, inside a callback of `owner` (whose
  // subscription stopped without waiting for it), once that callback has returned.
  static void finish(const std::shared_ptr<close_gate>& gate, const void* owner) {
    if (!callback_scope::at_exit(owner, [gate] { gate->finished(); })) gate->finished();
  }
  void finished() {
    {
      std::lock_guard lock(mu_);
      state_ = state::closed;
    }
    done_.notify_all();
  }
  // True once close() has begun.
  [[nodiscard]] bool begun() {
    std::lock_guard lock(mu_);
    return state_ != state::open;
  }

 private:
  enum class state { open, closing, closed };
  std::mutex mu_;
  std::condition_variable done_;
  state state_ = state::open;
};

}  // namespace ferry::detail
