// subscription and delivery_target: what the subject index stores and where matches go; the
// routing vocabulary that the core and JetStream (broker/js/host.h) share.
//
// A subscription belongs to one target: a client connection, or an internal handler such as
// the JetStream API. The index keeps shared_ptrs so that a match result cached by another
// thread stays valid after the subscription is removed; `closed` tells deliverers to skip it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/encoder.h"
#include "protocol/parser.h"

namespace ferry::broker {

class worker;
struct subscription;

// A message as it travels from publisher to subscribers: the parsed frame and its encoding.
struct routed_message {
  const protocol::pub_frame& frame;
  protocol::message_encoding& encoding;
  std::uint64_t publisher_id;  // client id of the publisher, 0 for the server itself
};

class delivery_target {
 public:
  virtual ~delivery_target() = default;
  // Delivers `m` to subscription `s` of this target. `from` is the worker whose thread is
  // calling (nullptr outside the workers); a connection uses it to batch its socket writes.
  // Returns false if nothing was delivered (target closed, limit reached).
  // Thread-safe: called from any thread.
  virtual bool deliver(subscription& s, const routed_message& m, worker* from) = 0;
  // The client id, for echo checks and monitoring; 0 for internal targets.
  [[nodiscard]] virtual std::uint64_t client_id() const = 0;
  // Whether the target wants to be skipped for its own publishes (echo:false).
  [[nodiscard]] virtual bool no_echo() const { return false; }
};

struct subscription {
  subscription(std::shared_ptr<delivery_target> t, std::string subj, std::string q, std::string id)
      : target(std::move(t)), subject(std::move(subj)), queue(std::move(q)), sid(std::move(id)) {}

  const std::shared_ptr<delivery_target> target;
  const std::string subject;
  const std::string queue;  // empty: not in a queue group
  const std::string sid;
  // Messages delivered, and the auto-unsubscribe limit (0: none). Atomic because publishers
  // on several workers may deliver to the same subscription.
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> max{0};
  // Set once when the subscription is removed; deliverers skip closed subscriptions.
  std::atomic<bool> closed{false};
};

using subscription_ptr = std::shared_ptr<subscription>;

// How the server routes a message it publishes itself.
struct route_options {
  // Match subscriptions against this subject instead of the frame's (JetStream delivers a
  // message to a consumer's inbox under the message's own subject).
  std::string_view match_subject;
  // Deliver to client connections only, skipping internal subscribers (JetStream routes its
  // deliveries under a stream lock; see docs/threading.md).
  bool clients_only = false;
};

// Work to do once at the end of a worker round, before output is flushed (JetStream uses it to
// write a round's appends with one write and then acknowledge them).
class round_task {
 public:
  virtual ~round_task() = default;
  virtual void run(worker& w) = 0;
};

}  // namespace ferry::broker
