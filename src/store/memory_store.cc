#include "store/memory_store.h"

#include <algorithm>

namespace ferry::store {

std::unique_ptr<message_store> make_memory_store(const store_options& o) {
  return std::make_unique<memory_store>(o);
}

std::uint64_t memory_store::size_of(std::string_view subject, std::string_view headers, std::string_view data) const {
  return memory_msg_size(subject.size(), headers.size(), data.size());
}

result<std::uint64_t> memory_store::put_body(std::uint64_t, std::string_view, std::string_view headers,
                                             std::string_view data, std::int64_t) {
  if (headers.size() > 0xFFFFFFFFu) return invalid_argument("headers too large");
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (bodies_.size() >= 0xFFFFFFFFu) return resource_exhausted("too many messages");
    slot = static_cast<std::uint32_t>(bodies_.size());
    bodies_.emplace_back();
  }
  std::string& b = bodies_[slot];
  b.reserve(headers.size() + data.size());
  b.assign(headers);
  b.append(data);
  return (std::uint64_t{slot} << 32) | headers.size();
}

result<stored_message> memory_store::get_body(std::uint64_t seq, const entry& e, const std::string& subject) const {
  const std::string& b = bodies_[e.payload >> 32];
  const std::size_t hlen = e.payload & 0xFFFFFFFFu;
  stored_message m;
  m.seq = stream_seq{seq};
  m.subject = subject;
  m.headers = b.substr(0, hlen);
  m.data = b.substr(hlen);
  m.timestamp_ns = e.ts_ns;
  return m;
}

void memory_store::on_remove(std::uint64_t, const entry& e, bool erase) {
  const auto slot = static_cast<std::uint32_t>(e.payload >> 32);
  std::string& b = bodies_[slot];
  if (erase) std::fill(b.begin(), b.end(), '\0');
  std::string().swap(b);
  free_slots_.push_back(slot);
}

status memory_store::write() { return closed() ? failed_precondition("store is closed") : status::ok(); }

void memory_store::flush_then(std::function<void(status)> done) {
  done(closed() ? failed_precondition("store is closed") : status::ok());
}

void memory_store::sync_file_then(sync_file_ptr /*f*/, std::function<void(status)> done) {
  done(failed_precondition("a memory store keeps no files to sync"));
}

status memory_store::close() {
  if (closed()) return status::ok();
  clear_index();
  bodies_.clear();
  bodies_.shrink_to_fit();
  free_slots_.clear();
  mark_closed();
  return status::ok();
}

status memory_store::destroy() { return close(); }

}  // namespace ferry::store
