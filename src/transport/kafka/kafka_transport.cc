// The Kafka transport (include/ferry/kafka.h): one producer, one consumer per subscription, and
// the reply listener for request/reply.
#include <spdlog/spdlog.h>

#include <mutex>
#include <vector>

#include "base/close_gate.h"
#include "ferry/kafka.h"
#include "transport/kafka/client.h"
#include "transport/kafka/consumer.h"
#include "transport/kafka/producer.h"
#include "transport/kafka/replies.h"

namespace ferry::kafka {
namespace {

using detail::consumer;

// "<topic>.retry.<group>", the group made a valid topic name.
std::string retry_topic_of(const std::string& topic, const std::string& group) {
  std::string g = group;
  for (char& c : g) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return topic + ".retry." + g;
}

class kafka_subscription final : public subscription {
 public:
  explicit kafka_subscription(std::shared_ptr<consumer> c) : c_(std::move(c)) {}
  ~kafka_subscription() override { stop(); }
  void stop() override { c_->stop(); }
  [[nodiscard]] const std::string& subject() const override { return c_->subject(); }

 private:
  const std::shared_ptr<consumer> c_;
};

class kafka_transport final : public transport {
 public:
  kafka_transport(std::string bootstrap, options o, std::shared_ptr<detail::producer> p)
      : bootstrap_(std::move(bootstrap)),
        options_(std::move(o)),
        producer_(std::move(p)),
        replies_(std::make_shared<detail::replies>(bootstrap_, options_, producer_)) {}
  ~kafka_transport() override { close(); }

  [[nodiscard]] capabilities caps() const override {
    return {.persistent = true,
            .consumer_groups = true,
            .per_key_order = true,  // a key stays in one partition, delivered in order
            .delayed_delivery = true,
            .request_reply = true,
            .redelivery = true,
            .delivery_count = true,
            .wildcards = false,
            .no_responders = false};  // Kafka cannot tell who consumes a topic
  }
  [[nodiscard]] std::string_view name() const override { return "kafka"; }

  // The producer fills in an empty id on what it sends.
  status publish(message m) override { return producer_->publish(m); }

  status publish(std::vector<message> ms) override { return producer_->publish_batch(ms); }

  // librdkafka copies what it sends before the call returns: a message the caller keeps costs no
  // copy, and one it gives up is not worth keeping.
  void publish_async(const message& m, publish_callback done) override { producer_->publish_async(m, std::move(done)); }

  void publish_async(message&& m, publish_callback done) override { producer_->publish_async(m, std::move(done)); }

  status flush(std::chrono::milliseconds timeout) override { return producer_->flush(timeout); }

  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options o,
                                                  delivery_callback cb) override {
    FERRY_RETURN_IF_ERROR(detail::check_topic(subject));
    const auto closed = [] { return failed_precondition("subscribe after the transport was closed"); };
    {
      std::lock_guard lock(mu_);
      if (closed_) return closed();
    }
    consumer::config c{
        .topic = subject,
        .group = o.group,
        .subscription = o,
        .callback = ::ferry::detail::scoped_callback(static_cast<const transport*>(this), std::move(cb))};
    // The topic exists before anyone waits for it: a group is assigned its partitions at once, and
    // a subscriber without a group knows which partitions to read from their end.
    FERRY_ASSIGN_OR_RETURN(c.partitions, producer_->ensure_topic(subject));
    if (!o.group.empty() && options_.nack == nack_mode::retry_topics) {
      c.retry_topic = retry_topic_of(subject, o.group);
      FERRY_RETURN_IF_ERROR(producer_->ensure_topic(c.retry_topic).status());
    }
    FERRY_ASSIGN_OR_RETURN(auto con, consumer::start(bootstrap_, options_, producer_, std::move(c)));
    std::lock_guard lock(mu_);
    if (closed_) {  // close() ran meanwhile and did not see this one
      con->stop();
      return closed();
    }
    std::erase_if(consumers_, [](const auto& w) { return w.expired(); });
    consumers_.push_back(con);
    return std::unique_ptr<subscription>(std::make_unique<kafka_subscription>(std::move(con)));
  }

  result<message> request(message m, std::chrono::milliseconds timeout) override {
    if (m.id.empty()) m.id = new_id();
    return replies_->request(std::move(m), timeout);
  }

  void close() override {
    const bool on_report_thread = producer_->on_report_thread();
    if (!close_->begin(on_report_thread ||
                       ::ferry::detail::callback_scope::inside(static_cast<const transport*>(this))))
      return;
    std::vector<std::weak_ptr<consumer>> consumers;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      consumers.swap(consumers_);
    }
    const auto stop_all = [consumers = std::move(consumers), replies = replies_] {
      for (const auto& w : consumers) {
        if (auto c = w.lock()) c->stop();
      }
      replies->close();
    };
    if (on_report_thread) {
      // Inside a publish_async callback. A subscription's callback may be waiting in publish() for
      // a report only this thread delivers: stopping the subscriptions here could wait for ever.
      // New messages are refused now; the rest ends on threads of their own (a close() elsewhere
      // waits for it).
      producer_->close();
      std::thread([stop_all = std::move(stop_all), producer = producer_, gate = close_] {
        stop_all();
        producer->close();  // waits until the producer's own closer has ended the report thread
        gate->finished();
      }).detach();
      return;
    }
    stop_all();
    producer_->close();
    ::ferry::detail::close_gate::finish(close_, static_cast<const transport*>(this));
  }

 private:
  const std::string bootstrap_;
  const options options_;
  const std::shared_ptr<detail::producer> producer_;
  const std::shared_ptr<detail::replies> replies_;  // shared with a close() finished elsewhere
  std::mutex mu_;
  std::vector<std::weak_ptr<consumer>> consumers_;  // guarded by mu_
  bool closed_ = false;                             // guarded by mu_
  // Shared with a close() finished on a thread of its own.
  const std::shared_ptr<::ferry::detail::close_gate> close_ = std::make_shared<::ferry::detail::close_gate>();
};

}  // namespace

result<std::unique_ptr<transport>> connect(const std::string& bootstrap_servers, options o) {
  if (bootstrap_servers.empty()) return invalid_argument("kafka: no bootstrap servers given");
  FERRY_ASSIGN_OR_RETURN(auto p, detail::producer::create(bootstrap_servers, o));
  return std::unique_ptr<transport>(std::make_unique<kafka_transport>(bootstrap_servers, std::move(o), std::move(p)));
}

result<std::unique_ptr<transport>> connect_url(const transport_url& url) {
  url_params p(url);
  options o;
  if (auto v = p.text("nack")) {
    if (*v == "blocking") {
      o.nack = nack_mode::blocking;
    } else if (*v == "retry_topics") {
      o.nack = nack_mode::retry_topics;
    } else {
      return invalid_argument("kafka option nack=\"" + *v + "\" is not blocking or retry_topics");
    }
  }
  const std::pair<const char*, std::chrono::milliseconds*> durations[] = {
      {"connect_timeout", &o.connect_timeout}, {"publish_timeout", &o.publish_timeout},
      {"commit_interval", &o.commit_interval}, {"revoke_timeout", &o.revoke_timeout},
      {"session_timeout", &o.session_timeout}, {"heartbeat_interval", &o.heartbeat_interval},
  };
  for (const auto& [key, field] : durations) {
    FERRY_ASSIGN_OR_RETURN(auto d, p.duration(key));
    if (d) *field = *d;
  }
  if (auto v = p.text("reply_topic")) o.reply_topic = *v;
  if (auto v = p.text("client.id")) o.client_id = *v;
  // Everything else is librdkafka's: connect() refuses what it does not know, naming it.
  for (auto& [k, v] : p.take_rest()) o.properties[k] = v;
  return connect(url.hosts, std::move(o));
}

}  // namespace ferry::kafka
