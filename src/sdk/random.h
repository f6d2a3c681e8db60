// Per-thread random numbers for the sdk (backoff jitter, trace and span ids): fast, seeded once
// per thread from std::random_device, not for cryptography.
#pragma once

#include <cstdint>
#include <random>

namespace ferry::detail {

inline std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{(std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
  return rng;
}

// Uniform in [0, 1].
inline double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(thread_rng()); }

}  // namespace ferry::detail
