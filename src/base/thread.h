// thread: joining a delivery thread from any thread, its own included.
#pragma once

#include <thread>

namespace ferry {

// Joins `t`; when called on `t` itself (a callback stopping its own subscription) detaches it
// instead: it finishes once the callback returns. Does nothing for a thread that is not joinable.
inline void join_unless_self(std::thread t) {
  if (!t.joinable()) return;
  if (t.get_id() == std::this_thread::get_id()) {
    t.detach();
  } else {
    t.join();
  }
}

}  // namespace ferry
