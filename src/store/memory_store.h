// memory_store: a message store that keeps everything in memory (JetStream's memory storage).
//
// All semantics come from indexed_store; this class only keeps the bodies: headers and data of
// each message in one string, in a slab whose slots are reused. Bytes are counted as nats-server
// counts a memory stream (memory_msg_size). flush_then() calls `done` at once: there is nothing
// to make durable. Create one with make_memory_store() (store.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/indexed_store.h"

namespace ferry::store {

class memory_store final : public indexed_store {
 public:
  explicit memory_store(const store_options& o) : indexed_store(o.lim) {}

  status write() override;
  void flush_then(std::function<void(status)> done) override;
  void sync_file_then(sync_file_ptr f, std::function<void(status)> done) override;
  status close() override;
  status destroy() override;

 protected:
  [[nodiscard]] std::uint64_t size_of(std::string_view subject, std::string_view headers,
                                      std::string_view data) const override;
  result<std::uint64_t> put_body(std::uint64_t seq, std::string_view subject, std::string_view headers,
                                 std::string_view data, std::int64_t ts_ns) override;
  result<stored_message> get_body(std::uint64_t seq, const entry& e, const std::string& subject) const override;
  void on_remove(std::uint64_t seq, const entry& e, bool erase) override;
  status after_change(change) override { return status::ok(); }

 private:
  // The payload word of an entry: slot << 32 | headers length.
  std::vector<std::string> bodies_;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace ferry::store
