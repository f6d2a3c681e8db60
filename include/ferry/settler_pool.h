// settler_pool: recycles the settlers of one subscription, so that a delivery allocates none.
//
// One thread takes settlers (the subscription's delivery thread); any thread gives them back, from
// T::release(), once no message refers to the delivery any more. Given-back settlers go on a
// lock-free stack; take() moves the whole stack to a list of its own at once, so single nodes are
// never popped from the shared stack and there is no ABA problem. The pool owns every settler it
// made and frees them when it is destroyed: keep it in the state that each settler in use holds
// alive (see docs/transports.md, "Writing a transport").
//
// T derives from ferry::settler, is default-constructible, calls reset() before it is attached to
// a new delivery, and has a public member `T* pool_next`.
//
// Thread safety: take() from one thread at a time; give_back() from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

namespace ferry {

template <class T>
class settler_pool {
 public:
  // A settler no message refers to: a given-back one, or a new one.
  T* take() {
    if (spare_ == nullptr) spare_ = free_.exchange(nullptr, std::memory_order_acquire);
    if (spare_ == nullptr) return all_.emplace_back(std::make_unique<T>()).get();
    T* s = spare_;
    spare_ = s->pool_next;
    return s;
  }

  // `s` (from take()) is free again.
  void give_back(T* s) {
    s->pool_next = free_.load(std::memory_order_relaxed);
    while (!free_.compare_exchange_weak(s->pool_next, s, std::memory_order_release, std::memory_order_relaxed)) {
    }
  }

  // How many settlers the pool made (in use or free).
  [[nodiscard]] std::size_t size() const { return all_.size(); }

 private:
  std::atomic<T*> free_{nullptr};        // given back, any thread
  T* spare_ = nullptr;                   // taken from free_, only the taking thread
  std::vector<std::unique_ptr<T>> all_;  // only the taking thread (and the destructor)
};

}  // namespace ferry
