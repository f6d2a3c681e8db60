#include "transport/kafka/replies.h"

#include <spdlog/spdlog.h>

#include "transport/kafka/codec.h"

namespace ferry::kafka::detail {

replies::replies(std::string bootstrap, options o, std::shared_ptr<producer> p)
    : bootstrap_(std::move(bootstrap)), options_(std::move(o)), producer_(std::move(p)) {}

replies::~replies() { close(); }

status replies::start_locked() {
  if (rk_ != nullptr) return status::ok();
  const std::string topic = options_.reply_topic.empty() ? "ferry.reply." + new_id() : options_.reply_topic;
  FERRY_ASSIGN_OR_RETURN(auto partitions, producer_->ensure_topic(topic));
  FERRY_ASSIGN_OR_RETURN(conf_ptr conf, make_conf(bootstrap_, options_, role::consumer));
  FERRY_RETURN_IF_ERROR(set(conf.get(), "group.id", "ferry-unjoined-" + new_id()));  // never joined
  FERRY_ASSIGN_OR_RETURN(rd_kafka_t * rk, make_handle(std::move(conf), RD_KAFKA_CONSUMER));
  rd_kafka_poll_set_consumer(rk);
  if (auto ends = assign_from_end(rk, topic, partitions, options_.connect_timeout); !ends.is_ok()) {
    close_consumer(rk, "reply topic " + topic);
    return ends.status();
  }
  rk_ = rk;
  topic_ = topic;
  thread_ = std::thread([this] { run(); });
  return status::ok();
}

void replies::run() {
  while (!stopping_.load()) {
    rd_kafka_message_t* km = rd_kafka_consumer_poll(rk_, 200);
    if (km == nullptr) continue;
    if (km->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      message m;
      const bookkeeping bk = from_kafka(km, topic_, m);
      std::lock_guard lock(mu_);
      if (auto it = waiting_.find(bk.reply_token); it != waiting_.end()) {
        it->second->reply = std::move(m);
        cv_.notify_all();
      }  // else: a late reply to a request that gave up, or another process's (a shared reply topic)
    } else {
      spdlog::warn("kafka: reply topic {}: {}", topic_, rd_kafka_message_errstr(km));
    }
    rd_kafka_message_destroy(km);
  }
}

result<message> replies::request(message m, std::chrono::milliseconds timeout) {
  FERRY_RETURN_IF_ERROR(check_topic(m.subject));
  auto w = std::make_shared<waiter>();
  const std::string token = new_id();
  rd_kafka_t* rk = nullptr;
  bool known = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return failed_precondition("request after the transport was closed");
    FERRY_RETURN_IF_ERROR(start_locked());
    rk = rk_;
    m.reply = topic_ + "#" + token;
    known = existing_.contains(m.subject);
  }
  if (!known) {
    // A topic nobody ever subscribed to does not exist: no one could answer (this handle is a
    // consumer's, which asks brokers not to create topics).
    std::shared_lock users(rk_users_);  // close() waits for this before it destroys rk
    {
      std::lock_guard lock(mu_);
      if (closed_) return failed_precondition("request after the transport was closed");
    }
    auto exists = topic_partitions(rk, m.subject, std::min(timeout, options_.connect_timeout));
    users.unlock();
    if (!exists.is_ok()) {
      if (exists.status().code() == status_code::not_found) {
        return unavailable("no responders: Kafka topic " + m.subject + " does not exist");
      }
      return exists.status();
    }
    std::lock_guard lock(mu_);
    existing_.insert(m.subject);
  }
  {
    std::lock_guard lock(mu_);
    waiting_[token] = w;
  }
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  status sent = producer_->publish(m);
  std::unique_lock lock(mu_);
  if (sent.is_ok()) cv_.wait_until(lock, give_up, [&] { return w->reply.has_value() || closed_; });
  waiting_.erase(token);
  if (!sent.is_ok()) return sent;
  if (!w->reply)
    return deadline_exceeded("no reply to " + m.subject + " within " + std::to_string(timeout.count()) + " ms");
  return std::move(*w->reply);
}

void replies::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    cv_.notify_all();
  }
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  std::unique_lock users(rk_users_);  // no request still asks rk_ about its topic
  if (rk_ != nullptr) {
    close_consumer(rk_, "reply topic " + topic_);
  }
}

}  // namespace ferry::kafka::detail
