// ring: a double-ended queue in one growable circular buffer (power-of-two capacity). Used for
// subscription queues: unlike std::deque it allocates only when it grows, and slots keep their
// capacity between uses. Not thread-safe.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace ferry::inproc::detail {

template <class T>
class ring {
 public:
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }

  void push_back(T&& v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & mask()] = std::move(v);
    ++size_;
  }
  void push_front(T&& v) {
    if (size_ == buf_.size()) grow();
    head_ = (head_ + buf_.size() - 1) & mask();
    buf_[head_] = std::move(v);
    ++size_;
  }
  // REQUIRES: !empty()
  T& front() { return buf_[head_]; }
  // Removes the front element, which the caller moved from. REQUIRES: !empty()
  void drop_front() {
    head_ = (head_ + 1) & mask();
    --size_;
  }
  // REQUIRES: !empty()
  T pop_front() {
    T v = std::move(buf_[head_]);
    head_ = (head_ + 1) & mask();
    --size_;
    return v;
  }
  // Empties the queue and frees what the elements held (not the slots).
  void clear() {
    while (!empty()) (void)pop_front();
  }

 private:
  [[nodiscard]] std::size_t mask() const { return buf_.size() - 1; }
  void grow() {
    std::vector<T> next(buf_.empty() ? 16 : buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) next[i] = std::move(buf_[(head_ + i) & mask()]);
    buf_ = std::move(next);
    head_ = 0;
  }

  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace ferry::inproc::detail
