// byte_buffer: a growable run of bytes with a read cursor, for socket I/O.
//
// Bytes are appended at the back and consumed from the front without moving the rest; the
// unread bytes are moved to the start only when more room is needed. Growth never zero-fills.
// Not thread-safe: the owner guards it.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "base/check.h"

namespace ferry {

class byte_buffer {
 public:
  byte_buffer() = default;
  explicit byte_buffer(std::size_t capacity) { reserve(capacity); }
  byte_buffer(const byte_buffer&) = delete;
  byte_buffer& operator=(const byte_buffer&) = delete;
  byte_buffer(byte_buffer&& o) noexcept { swap(o); }
  byte_buffer& operator=(byte_buffer&& o) noexcept {
    byte_buffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~byte_buffer() { std::free(buf_); }

  void swap(byte_buffer& o) noexcept {
    std::swap(buf_, o.buf_);
    std::swap(cap_, o.cap_);
    std::swap(begin_, o.begin_);
    std::swap(end_, o.end_);
  }

  // The unread bytes.
  [[nodiscard]] char* data() { return buf_ + begin_; }
  [[nodiscard]] const char* data() const { return buf_ + begin_; }
  [[nodiscard]] std::size_t size() const { return end_ - begin_; }
  [[nodiscard]] bool empty() const { return end_ == begin_; }
  [[nodiscard]] std::size_t capacity() const { return cap_; }
  [[nodiscard]] std::string_view view() const { return {data(), size()}; }

  // Returns room for at least `n` more bytes after the unread ones; publish them with commit().
  char* prepare(std::size_t n) {
    if (cap_ - end_ < n) make_room(n);
    return buf_ + end_;
  }
  // Room available after prepare() without another allocation.
  [[nodiscard]] std::size_t writable() const { return cap_ - end_; }
  // REQUIRES: n <= writable()
  void commit(std::size_t n) {
    FERRY_CHECK(n <= cap_ - end_);
    end_ += n;
  }

  void append(const void* p, std::size_t n) {
    if (n == 0) return;  // p may be null then, which memcpy does not allow
    if (cap_ - end_ < n) make_room(n);
    std::memcpy(buf_ + end_, p, n);
    end_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) {
    if (cap_ == end_) make_room(1);
    buf_[end_++] = c;
  }

  // Drops `n` unread bytes from the front. REQUIRES: n <= size()
  void consume(std::size_t n) {
    FERRY_CHECK(n <= size());
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }

  // Ensures capacity for `n` unread bytes in total.
  void reserve(std::size_t n) {
    if (n > size()) make_room(n - size());
  }
  // Frees memory beyond `cap` when the buffer holds less than that; keeps the unread bytes.
  void shrink_to(std::size_t cap) {
    if (cap_ <= cap || size() > cap) return;
    compact();
    char* nb = static_cast<char*>(std::realloc(buf_, cap == 0 ? 1 : cap));
    FERRY_CHECK(nb != nullptr);
    buf_ = nb;
    cap_ = cap == 0 ? 1 : cap;
  }

 private:
  void compact() {
    if (begin_ == 0) return;
    std::memmove(buf_, buf_ + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }
  void make_room(std::size_t n) {
    compact();
    if (cap_ - end_ >= n) return;
    std::size_t want = size() + n;
    std::size_t cap = cap_ < 64 ? 64 : cap_;
    while (cap < want) cap *= 2;
    char* nb = static_cast<char*>(std::realloc(buf_, cap));
    FERRY_CHECK(nb != nullptr);
    buf_ = nb;
    cap_ = cap;
  }

  char* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last unread byte
};

}  // namespace ferry
