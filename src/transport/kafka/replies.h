// replies: request/reply over Kafka, in the way of Spring's ReplyingKafkaTemplate. The process has
// one reply topic; a request carries "<reply topic>#<token>" in its Ferry-Reply-To header, the
// responder publishes to that address (the producer turns it into the reply topic plus a
// Ferry-Reply-Token header), and a consumer of every partition of the reply topic, without a
// group, hands each reply to the request waiting for its token.
//
// Started on the first request. Thread safety: every method is thread-safe.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>

#include "ferry/kafka.h"
#include "ferry/message.h"
#include "transport/kafka/producer.h"

namespace ferry::kafka::detail {

class replies {
 public:
  replies(std::string bootstrap, options o, std::shared_ptr<producer> p);
  ~replies();
  replies(const replies&) = delete;
  replies& operator=(const replies&) = delete;

  // Publishes `m` as a request and waits for its reply. unavailable when m.subject's topic does not
  // exist (nobody ever subscribed to it; brokers that create topics on a metadata request, as the
  // mock does, never say so), deadline_exceeded after `timeout`.
  result<message> request(message m, std::chrono::milliseconds timeout);
  void close();

 private:
  struct waiter {
    std::optional<message> reply;
  };
  status start_locked();  // REQUIRES: mu_ held
  void run();

  const std::string bootstrap_;
  const options options_;
  const std::shared_ptr<producer> producer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string topic_;                                       // guarded by mu_ (set once)
  rd_kafka_t* rk_ = nullptr;                                // guarded by mu_ (set once)
  // Held shared by a request asking rk_ whether its topic exists (outside mu_), and exclusively by
  // close() before it destroys rk_.
  std::shared_mutex rk_users_;
  std::map<std::string, std::shared_ptr<waiter>> waiting_;  // by token, guarded by mu_
  std::set<std::string> existing_;                          // request topics seen to exist, guarded by mu_
  bool closed_ = false;                                     // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ferry::kafka::detail
