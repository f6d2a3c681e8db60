// message: what flows through the ferry SDK, on every transport.
//
// A message is a value: an id, a subject, an optional ordering key, headers, a payload, and, once
// delivered, the facts of its delivery (how many times it was delivered, its stream sequence,
// whether it is a redelivery) plus the means to settle it: ack, nack (optionally after a delay),
// term (never redeliver) and in_progress (extend the ack deadline).
//
//   ferry::message m("order.created", R"({"id":42})");
//   m.key = "customer-7";                      // messages with one key keep their order
//   m.headers.set("Content-Type", "application/json");
//
// Settlement is idempotent and the first decision wins: ack() after nack() returns false and
// does nothing. Copies of a delivered message share one settlement (they are the same delivery).
// A message that is never settled by its handler is settled by the router (ack on success, nack
// on error). Settling a message that was not delivered by a transport (e.g. one you built) is a
// no-op that returns false.
//
// Thread safety: a message may be moved between threads; settling it is thread-safe; the fields
// are plain data and must not be written by two threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

// Ordered, multi-valued headers (like NATS headers and HTTP): names compare case-sensitively
// as NATS does; several values per name keep their order.
class header_map {
 public:
  using entry = std::pair<std::string, std::string>;

  // The first value of `name`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  // The first value of `name`, or `fallback`.
  [[nodiscard]] std::string value_or(std::string_view name, std::string_view fallback) const;
  // Every value of `name`, in order.
  [[nodiscard]] std::vector<std::string_view> all(std::string_view name) const;
  [[nodiscard]] bool contains(std::string_view name) const { return get(name).has_value(); }
  // Replaces every value of `name` with `value`.
  header_map& set(std::string name, std::string value);
  // Adds one more value of `name`.
  header_map& add(std::string name, std::string value);
  // Removes every value of `name`; returns how many were removed.
  std::size_t erase(std::string_view name);

  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }
  void clear() { entries_.clear(); }
  friend bool operator==(const header_map&, const header_map&) = default;

 private:
  std::vector<entry> entries_;
};

// How a delivered message was settled.
enum class settlement : std::uint8_t {
  pending,     // not yet
  acked,       // processed; never delivered again
  nacked,      // failed; the transport delivers it again (after the delay, if it can)
  terminated,  // failed for good; never delivered again
};
std::string_view to_string(settlement s);

// Implemented by each transport for the messages it delivers: one settler per delivery. The
// message calls exactly one of ack/nack/term, at most once (in_progress any number of times
// before that). The settler also holds the delivery's settlement state, so delivering a message
// costs no allocation beyond the settler itself (which a transport may pool, see release()).
class settler {
 public:
  settler() = default;
  settler(const settler&) = delete;
  settler& operator=(const settler&) = delete;
  virtual ~settler() = default;
  virtual void ack() = 0;
  // `delay` zero: redeliver as soon as the transport can. A transport without the
  // delayed_delivery capability ignores the delay only if the router did not ask for it (the
  // router checks capabilities first).
  virtual void nack(std::chrono::milliseconds delay) = 0;
  virtual void term(std::string_view reason) = 0;
  // Tells the transport the handler is still working (extends the ack deadline). Default: none.
  virtual void in_progress() {}

 protected:
  // Called once no message refers to this delivery any more (on the thread that dropped the last
  // copy). Default: delete this. A transport that pools its settlers overrides it, and calls
  // reset() before it attaches the settler to another delivery.
  virtual void release() { delete this; }
  // Back to pending with no hooks. REQUIRES: released (no message refers to it).
  void reset();

 private:
  friend class message;
  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) release();
  }

  std::atomic<std::uint32_t> refs_{0};
  std::atomic<settlement> state_{settlement::pending};
  std::atomic<bool> has_hooks_{false};  // set before the first hook is added: settling skips the lock
  std::mutex hooks_mu_;                 // guards hooks_
  std::vector<std::function<void(settlement)>> hooks_;
};

// Facts about one delivery, filled in by the transport.
struct delivery_info {
  std::uint64_t delivery_count = 1;                   // 1 on the first delivery, 2 on the first redelivery...
  std::uint64_t stream_sequence = 0;                  // position in a persistent stream; 0 when there is none
  bool redelivered = false;                           // delivered before (delivery_count > 1 where counted)
  std::chrono::system_clock::time_point published{};  // when the broker stored it, if known
  std::string_view transport;                         // "inproc", "nats", "jetstream", "kafka"...
  std::int32_t partition = -1;                        // Kafka: the partition (stream_sequence is offset + 1)
};

class message {
 public:
  message() = default;
  message(std::string subject_, std::string payload_) : subject(std::move(subject_)), payload(std::move(payload_)) {}

  std::string id;       // unique id; set by the publisher when empty (also the dedup key)
  std::string subject;  // where it is published / where it came from
  std::string key;      // ordering key: messages with one key are handled in order (per_key)
  header_map headers;
  std::string payload;
  std::string reply;  // reply subject of a request (empty otherwise)
  delivery_info delivery;

  // Processing state, set by the router and middleware while a handler runs; never sent, and
  // not kept by copy_content().
  //
  // When the handler should be done (the timeout middleware sets it); max() when there is none.
  // Handlers doing long work check past_deadline() and give up early: C++ cannot cancel a thread.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // Retries of this delivery made inside this process so far (the retry middleware counts them).
  std::uint32_t local_retries = 0;

  [[nodiscard]] bool past_deadline() const { return std::chrono::steady_clock::now() >= deadline; }
  // The number of this attempt at handling the message, counting transport redeliveries and
  // in-process retries: 1 on the first try.
  [[nodiscard]] std::uint64_t attempt() const { return delivery.delivery_count + local_retries; }

  // Settlement (see the file comment). Each returns true if this call settled the message.
  bool ack();
  bool nack(std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  bool term(std::string_view reason = {});
  void in_progress();
  [[nodiscard]] settlement state() const;
  // Calls `f` once with the settlement when this delivery is settled (by anyone: the handler,
  // the router, a copy), after the transport was told; at once, on this thread, if it already is.
  // Does nothing for a message that was not delivered. Thread-safe. `f` must not throw.
  void on_settled(std::function<void(settlement)> f);
  // True when a transport delivered this message (it can be settled).
  [[nodiscard]] bool is_delivered() const { return settle_.get() != nullptr; }

  // For transports: attach the settler of this delivery. The message and each of its copies hold
  // a reference; the settler's release() runs when the last is gone. `s` comes from `new` (or
  // from a pool whose settler class overrides release()); nullptr detaches.
  void attach(settler* s);
  void attach(std::unique_ptr<settler> s) { attach(s.release()); }

  // A fresh message with the same subject, key, headers and payload, but no id, reply or
  // delivery: what a handler returns to re-publish something.
  [[nodiscard]] message copy_content() const;

 private:
  // A counted reference to the settler of this delivery (copies of the message share it).
  class settler_ref {
   public:
    settler_ref() = default;
    explicit settler_ref(settler* s) : p_(s) {
      if (p_ != nullptr) p_->retain();
    }
    settler_ref(const settler_ref& o) : settler_ref(o.p_) {}
    settler_ref(settler_ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    settler_ref& operator=(settler_ref o) noexcept {
      std::swap(p_, o.p_);
      return *this;
    }
    ~settler_ref() {
      if (p_ != nullptr) p_->unref();
    }
    [[nodiscard]] settler* get() const { return p_; }
    settler* operator->() const { return p_; }

   private:
    settler* p_ = nullptr;
  };

  // Moves the settlement from pending to `to`; true if this call did it.
  bool settle_as(settlement to);
  // Runs the on_settled hooks after this delivery was settled as `s`.
  void run_hooks(settlement s);
  settler_ref settle_;
};

// Well-known header names used across the SDK.
namespace header {
inline constexpr std::string_view message_id = "Nats-Msg-Id";  // also broker dedup
inline constexpr std::string_view key = "Ferry-Key";           // ordering key on the wire
inline constexpr std::string_view correlation_id = "Correlation-Id";
inline constexpr std::string_view traceparent = "traceparent";
inline constexpr std::string_view tracestate = "tracestate";
inline constexpr std::string_view content_type = "Content-Type";
inline constexpr std::string_view delivery_count = "Ferry-Delivery-Count";
// Dead letters carry these (the same names ferryd's dead_letter_stream uses).
inline constexpr std::string_view dead_letter_reason = "Ferry-Dead-Letter-Reason";
inline constexpr std::string_view dead_letter_subject = "Ferry-Dead-Letter-Subject";
inline constexpr std::string_view dead_letter_deliveries = "Ferry-Dead-Letter-Deliveries";
inline constexpr std::string_view dead_letter_handler = "Ferry-Dead-Letter-Handler";
inline constexpr std::string_view dead_letter_time = "Ferry-Dead-Letter-Time";
}  // namespace header

// A unique 22-character id (base62; NUID's scheme: a random per-thread prefix and a sequence
// with a random start and step), as used for message ids.
std::string new_id();

}  // namespace ferry
