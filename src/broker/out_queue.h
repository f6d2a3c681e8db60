// out_queue: a connection's outbound bytes as a list of chunks, written with one sendmsg over
// many iovecs. Whole staged batches are moved in as chunks (no copy); small frames are appended
// to the last chunk. Not thread-safe: the connection guards it.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <string_view>
#include <vector>

#include "base/byte_buffer.h"

namespace ferry::broker {

class out_queue {
 public:
  [[nodiscard]] bool empty() const { return bytes_ == 0; }
  // Bytes queued.
  [[nodiscard]] std::size_t size() const { return bytes_; }

  // Copies bytes onto the last chunk, or a new one.
  void append(std::string_view s) {
    append_with(s.size(), [&](byte_buffer& b) { b.append(s); });
  }
  // Lets `write(byte_buffer&)` append about `hint` bytes to the last chunk; keeps the count.
  template <class F>
  void append_with(std::size_t hint, F&& write) {
    if (chunks_.empty() || chunks_.back().size() + hint > small_chunk) {
      chunks_.emplace_back();
      chunks_.back().reserve(hint > 16384 ? hint : 16384);
    }
    byte_buffer& b = chunks_.back();
    const std::size_t before = b.size();
    write(b);
    bytes_ += b.size() - before;
  }
  // Moves `b` in as a chunk, without copying it.
  void push(byte_buffer&& b) {
    if (b.empty()) return;
    bytes_ += b.size();
    chunks_.push_back(std::move(b));
  }
  // Puts `front` before everything queued here (used to give unsent bytes back).
  void prepend(out_queue&& front) {
    for (auto it = front.chunks_.rbegin(); it != front.chunks_.rend(); ++it) chunks_.push_front(std::move(*it));
    bytes_ += front.bytes_;
    front.chunks_.clear();
    front.bytes_ = 0;
  }
  // Describes up to `max` chunks from the front; returns how many.
  std::size_t gather(iovec* iov, std::size_t max) const {
    std::size_t n = 0;
    for (auto it = chunks_.begin(); it != chunks_.end() && n < max; ++it, ++n) {
      iov[n].iov_base = const_cast<char*>(it->data());
      iov[n].iov_len = it->size();
    }
    return n;
  }
  // Drops `n` written bytes from the front; emptied chunk buffers go to `freed` for reuse.
  void consume(std::size_t n, std::vector<byte_buffer>& freed) {
    bytes_ -= n;
    while (n > 0) {
      byte_buffer& f = chunks_.front();
      if (n < f.size()) {
        f.consume(n);
        return;
      }
      n -= f.size();
      f.clear();
      freed.push_back(std::move(f));
      chunks_.pop_front();
    }
  }
  void clear() {
    chunks_.clear();
    bytes_ = 0;
  }
  void swap(out_queue& o) noexcept {
    chunks_.swap(o.chunks_);
    std::swap(bytes_, o.bytes_);
  }
  [[nodiscard]] std::size_t chunks() const { return chunks_.size(); }

 private:
  static constexpr std::size_t small_chunk = 64 * 1024;
  std::deque<byte_buffer> chunks_;
  std::size_t bytes_ = 0;
};

}  // namespace ferry::broker
