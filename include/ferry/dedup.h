// dedup: stores of message keys already processed, for the dedup middleware (middleware.h).
//
//   ferry::memory_dedup_store store({.max_keys = 100'000});           // one process
//   auto shared = ferry::sqlite_dedup_store::open("/var/lib/app/dedup.db");  // several processes
//   r.use(ferry::middleware::dedup(*shared.value(), {.ttl = std::chrono::hours(1)}));
//
// A key moves through: absent -> reserved (a copy of the message is being handled; expires after
// the reservation's ttl, in case its process died) -> committed (handled; remembered for the
// commit's ttl) -> absent again once expired. release() takes a reservation back (the attempt
// failed, so a redelivery may try again).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {

// Implementations are thread-safe.
class dedup_store {
 public:
  enum class reservation : std::uint8_t {
    reserved,   // the caller now owns the key: handle the message, then commit() or release()
    duplicate,  // already processed (committed and not expired)
    in_flight,  // reserved by someone else, not expired: try again later
  };

  virtual ~dedup_store() = default;
  // Reserves `key` for `ttl` unless it is committed or reserved (and not expired).
  virtual result<reservation> reserve(std::string_view key, std::chrono::milliseconds ttl) = 0;
  // Marks `key` processed, remembered for `ttl` (whether or not it was reserved).
  virtual status commit(std::string_view key, std::chrono::milliseconds ttl) = 0;
  // Forgets a reservation of `key`; a committed key stays. No error when absent.
  virtual status release(std::string_view key) = 0;
};

std::string_view to_string(dedup_store::reservation r);

struct memory_dedup_options {
  // Keys kept at most (reserved and committed together). When full the oldest key is forgotten
  // (it may then be processed again: size this above the keys seen per ttl).
  std::size_t max_keys = 100'000;
};

// In memory, for one process. Expired keys are removed as new ones arrive (amortised O(1)). Expiry
// is measured with a coarse clock: a TTL may run a few milliseconds long.
class memory_dedup_store : public dedup_store {
 public:
  explicit memory_dedup_store(memory_dedup_options options = {});
  ~memory_dedup_store() override;
  result<reservation> reserve(std::string_view key, std::chrono::milliseconds ttl) override;
  status commit(std::string_view key, std::chrono::milliseconds ttl) override;
  status release(std::string_view key) override;
  // Keys held now, expired ones not yet removed included.
  [[nodiscard]] std::size_t size() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct sqlite_dedup_options {
  std::chrono::milliseconds busy_timeout{5'000};  // waiting for another process's write lock
  // Expired rows are deleted every this many writes (0: never; they are still ignored).
  std::uint32_t purge_every = 1'000;
};

// In an SQLite file (WAL mode), shared by every process that opens the same path: a key
// processed by one is a duplicate for all. Times are wall-clock milliseconds (processes on one
// host share the clock). One connection per store, guarded by a mutex.
// Link ferry::sqlite_dedup_store (CMake) for it: only its users link SQLite.
class sqlite_dedup_store : public dedup_store {
 public:
  // Opens (creating if needed) the database at `path`.
  static result<std::unique_ptr<sqlite_dedup_store>> open(const std::string& path, sqlite_dedup_options options = {});
  ~sqlite_dedup_store() override;
  sqlite_dedup_store(const sqlite_dedup_store&) = delete;
  sqlite_dedup_store& operator=(const sqlite_dedup_store&) = delete;

  result<reservation> reserve(std::string_view key, std::chrono::milliseconds ttl) override;
  status commit(std::string_view key, std::chrono::milliseconds ttl) override;
  status release(std::string_view key) override;

 private:
  struct impl;
  explicit sqlite_dedup_store(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

}  // namespace ferry
