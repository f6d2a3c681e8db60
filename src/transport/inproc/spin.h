// Short waits for the in-process transport's hot locks. Its critical sections are a few dozen
// instructions (queue a message, swap a queue), far shorter than a futex sleep and wake-up, which
// in a virtual machine costs as much as hundreds of deliveries: so a contended lock spins a little
// before it sleeps.
#pragma once

#include <mutex>

namespace ferry::inproc::detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Locks `mu`, trying a few times before blocking.
inline std::unique_lock<std::mutex> lock_spinning(std::mutex& mu) {
  constexpr int tries = 100;
  for (int i = 0; i < tries; ++i) {
    if (mu.try_lock()) return std::unique_lock<std::mutex>(mu, std::adopt_lock);
    cpu_relax();
  }
  return std::unique_lock<std::mutex>(mu);
}

}  // namespace ferry::inproc::detail
