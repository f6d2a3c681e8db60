// transport: how messages leave and reach a process. One implementation per backend (in-process,
// NATS core, NATS JetStream...), all behind this interface, each declaring what it can do.
//
//   auto t = ferry::inproc::make_transport();            // or ferry::nats::connect(...)
//   auto sub = t->subscribe("order.*", {.group = "billing"}, [](ferry::message m) {
//     handle(m);
//     m.ack();
//   });
//   t->publish(ferry::message("order.created", "{}"));
//
// A transport never silently ignores what it cannot do: asking for a capability it lacks (a
// consumer group, a nack delay, request/reply) returns `unimplemented` from the call that asked.
// Deliveries are pushed to the callback on the transport's threads, never while the transport
// holds a lock, so a callback may publish, subscribe or settle freely. At most
// `max_in_flight` unsettled messages per subscription are outstanding: that is the back-pressure.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/message.h"
#include "ferry/result.h"
#include "ferry/status.h"

namespace ferry {

// What a transport can do. The conformance suite runs each behaviour where it is declared.
struct capabilities {
  bool persistent = false;        // messages survive a subscriber (and process) restart
  bool consumer_groups = false;   // subscription_options::group shares work among members
  bool per_key_order = false;     // the transport itself keeps the order of one key
  bool delayed_delivery = false;  // nack(delay) is honoured by the transport
  bool request_reply = false;     // request() works
  bool redelivery = false;        // a nacked or unacked message is delivered again
  bool delivery_count = false;    // delivery_info::delivery_count is counted by the transport
  bool wildcards = false;         // subjects may use NATS wildcards (* and >)
  // request() fails at once with unavailable when nobody listens (NATS "no responders"); without
  // it a request nobody answers waits for its timeout.
  bool no_responders = false;

  // "persistent consumer_groups ..." (the true ones), for logs and the conformance report.
  [[nodiscard]] std::string to_string() const;
};

struct subscription_options {
  // Consumer group: members of one group share the messages (each to one member); different
  // groups each get every message. Empty: this subscription gets every message.
  std::string group;
  // Unsettled deliveries outstanding at most, per subscription (back-pressure).
  std::size_t max_in_flight = 256;
  // Persistent transports: how long a delivery may stay unsettled before it is redelivered, and
  // how many deliveries at most (0: the transport's default). Others ignore these.
  std::chrono::milliseconds ack_wait{30'000};
  std::uint32_t max_deliver = 0;
};

// A live subscription; stops (and waits for running callbacks to return) when destroyed. It may be
// destroyed from its own callback (as stop() may be called there).
class subscription {
 public:
  virtual ~subscription() = default;
  // Stops deliveries and waits until no callback of this subscription is running. Unsettled
  // messages stay with the transport (persistent: redelivered later). Idempotent. Called from one of
  // this subscription's own callbacks it does not wait for that callback, and no callback starts
  // after it returned.
  virtual void stop() = 0;
  [[nodiscard]] virtual const std::string& subject() const = 0;
};

// Receives each delivered message (to keep: a lambda taking `message m` by value moves it there).
using delivery_callback = std::function<void(message&&)>;
// Receives the outcome of one asynchronous publish. Must not throw.
using publish_callback = std::function<void(status)>;

class publisher {
 public:
  virtual ~publisher() = default;
  // Publishes one message. Returns once the transport has it (persistent transports: once the
  // broker acknowledged it). Fills in m.id first when empty.
  virtual status publish(message m) = 0;
  // Publishes several; stops at the first failure and returns it.
  virtual status publish(std::vector<message> ms);
  // Publishes without waiting: `done` runs once, with what publish() would have returned, when the
  // transport knows it (persistent transports: on the thread that receives the broker's answer, so
  // it must be quick and must not wait for another publish: where that thread would wait for
  // itself, Kafka's and RabbitMQ's, publish(), a batch, flush() and request() are refused there
  // with failed_precondition; publish_async and close() work, and `done` may hold the last
  // reference to the transport). Keeps many messages in flight where the transport can; the
  // default calls publish() and then `done` on the caller's thread.
  //
  // The transport takes what it sends before the call returns: the caller may change, reuse or
  // destroy `m` at once (a producer that sends many messages may fill one message again and again,
  // as a Kafka producer refills one buffer). An empty id is filled in on what is sent, not in `m`:
  // each call gets an id of its own. Kafka serializes `m` on the caller's thread, so the const
  // overload costs no copy there; elsewhere a kept message is copied once (into a queue, or into
  // publish()'s parameter).
  virtual void publish_async(const message& m, publish_callback done);
  // The same for a message the caller gives up: a transport that queues messages keeps it without
  // a copy.
  virtual void publish_async(message&& m, publish_callback done);
  // Waits until everything published so far has left the process (or `timeout`).
  virtual status flush(std::chrono::milliseconds timeout) = 0;
};

class subscriber {
 public:
  virtual ~subscriber() = default;
  virtual result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options options,
                                                          delivery_callback callback) = 0;
};

class transport : public publisher, public subscriber {
 public:
  using publisher::publish;
  [[nodiscard]] virtual capabilities caps() const = 0;
  [[nodiscard]] virtual std::string_view name() const = 0;
  // Sends `m` as a request and waits for one reply. `unimplemented` without request_reply;
  // `deadline_exceeded` on timeout; `unavailable` when nobody listens (no responders).
  virtual result<message> request(message m, std::chrono::milliseconds timeout);
  // Stops every subscription, flushes, disconnects. Idempotent; the destructor calls it. Every
  // later call fails with failed_precondition (publish_async answers its callback so, once). May be
  // called from a subscription's callback (a service that shuts down on a message) or a
  // publish_async callback: it does not wait for that callback.
  virtual void close() = 0;
};

// Builds the reply to a request: a message to `request.reply` (what a handler returns).
message reply_to(const message& request, std::string payload);

}  // namespace ferry
