// The RabbitMQ transport (include/ferry/rabbitmq.h): the publisher's I/O thread for publishing
// and requests, one consumer (connection and thread) per subscription.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "base/close_gate.h"
#include "ferry/rabbitmq.h"
#include "transport/rabbitmq/amqp.h"
#include "transport/rabbitmq/consumer.h"
#include "transport/rabbitmq/publisher.h"

namespace ferry::rabbitmq {
namespace {

using detail::consumer;

class rabbitmq_subscription final : public subscription {
 public:
  explicit rabbitmq_subscription(std::shared_ptr<consumer> c) : c_(std::move(c)) {}
  ~rabbitmq_subscription() override { stop(); }
  void stop() override { c_->stop(); }
  [[nodiscard]] const std::string& subject() const override { return c_->subject(); }

 private:
  const std::shared_ptr<consumer> c_;
};

// Waits for the outcomes of `n` publishes; keeps the failure of the earliest message.
class outcomes {
 public:
  explicit outcomes(std::size_t n) : left_(n) {}
  void done(std::size_t i, status s) {
    std::lock_guard lock(mu_);  // notified under the lock: the waiter may go once it sees 0
    if (!s.is_ok() && i < first_failed_) {
      first_failed_ = i;
      failure_ = std::move(s);
    }
    if (--left_ == 0) cv_.notify_all();
  }
  status wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return left_ == 0; });
    return failure_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t left_;
  std::size_t first_failed_ = SIZE_MAX;
  status failure_;
};

class rabbitmq_transport final : public transport {
 public:
  rabbitmq_transport(std::string address, options o, std::shared_ptr<detail::publisher> p)
      : address_(std::move(address)), options_(std::move(o)), pub_(std::move(p)) {}
  ~rabbitmq_transport() override { close(); }

  [[nodiscard]] capabilities caps() const override {
    return {.persistent = true,
            .consumer_groups = true,
            .per_key_order = false,  // a queue hands its messages to its consumers in turn
            .delayed_delivery = true,
            .request_reply = true,
            .redelivery = true,
            .delivery_count = true,
            .wildcards = true,
            .no_responders = true};
  }
  [[nodiscard]] std::string_view name() const override { return "rabbitmq"; }

  status publish(message m) override {
    FERRY_RETURN_IF_ERROR(not_on_io_thread("publish()"));
    FERRY_RETURN_IF_ERROR(prepare(m));
    outcomes o(1);
    pub_->publish(std::move(m), [&o](status s) { o.done(0, std::move(s)); });
    return o.wait();
  }

  status publish(std::vector<message> ms) override {
    FERRY_RETURN_IF_ERROR(not_on_io_thread("publish(batch)"));
    for (message& m : ms) FERRY_RETURN_IF_ERROR(prepare(m));
    outcomes o(ms.size());
    if (ms.empty()) return status::ok();
    pub_->publish(std::move(ms), [&o](std::size_t i, status s) { o.done(i, std::move(s)); });
    return o.wait();
  }

  // The I/O thread publishes the queued message: a message the caller keeps is copied first.
  void publish_async(const message& m, publish_callback done) override { publish_async(message(m), std::move(done)); }

  void publish_async(message&& m, publish_callback done) override {
    if (status s = prepare(m); !s.is_ok()) {
      done(std::move(s));
      return;
    }
    pub_->publish(std::move(m), std::move(done));
  }

  status flush(std::chrono::milliseconds timeout) override {
    FERRY_RETURN_IF_ERROR(not_on_io_thread("flush()"));
    return pub_->flush(timeout);
  }

  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options o,
                                                  delivery_callback cb) override {
    FERRY_RETURN_IF_ERROR(detail::check_subject(subject, true));
    std::string queue = o.group.empty() ? "ferry-sub." + new_id() + "." + subject : o.group + "." + subject;
    if (!o.group.empty() && queue.size() > 255) {
      return invalid_argument("rabbitmq: the queue name \"" + queue.substr(0, 64) +
                              "...\" (group.subject) is longer than 255 bytes");
    }
    if (queue.size() > 255) queue.resize(255);
    if (closed_.load()) return failed_precondition("subscribe after the transport was closed");
    FERRY_ASSIGN_OR_RETURN(auto c, consumer::start(address_, options_,
                                                   {.subject = std::move(subject),
                                                    .group = o.group,
                                                    .queue = std::move(queue),
                                                    .subscription = o,
                                                    .callback = ::ferry::detail::scoped_callback(
                                                        static_cast<const transport*>(this), std::move(cb))}));
    {
      std::lock_guard lock(mu_);
      if (!closed_.load()) {
        std::erase_if(consumers_, [](const auto& w) { return w.expired(); });
        consumers_.push_back(c);
        return std::unique_ptr<subscription>(std::make_unique<rabbitmq_subscription>(std::move(c)));
      }
    }
    // Not under mu_: a callback of this subscription may be calling close(), which takes it.
    c->stop();
    return failed_precondition("subscribe after the transport was closed");
  }

  result<message> request(message m, std::chrono::milliseconds timeout) override {
    FERRY_RETURN_IF_ERROR(detail::check_subject(m.subject, false));
    FERRY_RETURN_IF_ERROR(detail::check_message(m));
    FERRY_RETURN_IF_ERROR(not_on_io_thread("request()"));
    if (m.id.empty()) m.id = new_id();
    return pub_->request(std::move(m), timeout);
  }

  void close() override {
    const bool on_io_thread = pub_->on_io_thread();
    if (!close_->begin(on_io_thread || ::ferry::detail::callback_scope::inside(static_cast<const transport*>(this))))
      return;
    std::vector<std::weak_ptr<consumer>> consumers;
    {
      std::lock_guard lock(mu_);
      closed_.store(true);
      consumers.swap(consumers_);
    }
    const auto stop_all = [consumers = std::move(consumers)] {
      for (const auto& w : consumers) {
        if (auto c = w.lock()) c->stop();
      }
    };
    if (on_io_thread) {
      // Inside a publish_async callback. A subscription's callback may be waiting in publish() for
      // a confirm only this thread delivers: stopping the subscriptions here could wait for ever.
      // New messages are refused now; the rest ends on threads of their own (a close() elsewhere
      // waits for it).
      pub_->close();
      std::thread([stop_all = std::move(stop_all), pub = pub_, gate = close_] {
        stop_all();
        pub->close();  // waits until the I/O thread has ended (its callbacks with it)
        gate->finished();
      }).detach();
      return;
    }
    stop_all();
    pub_->close();
    ::ferry::detail::close_gate::finish(close_, static_cast<const transport*>(this));
  }

 private:
  // A call that waits for the I/O thread, made on it (in a publish_async callback), is refused.
  [[nodiscard]] status not_on_io_thread(std::string_view call) const {
    if (!pub_->on_io_thread()) return status::ok();
    return failed_precondition("rabbitmq: " + std::string(call) +
                               " inside a publish_async callback would wait for the thread that runs it: use "
                               "publish_async there");
  }

  // Checks `m` and gives it an id.
  static status prepare(message& m) {
    // A reply goes to a direct reply-to address ("amq.rabbitmq.reply-to...#<correlation id>").
    if (!m.subject.starts_with(detail::direct_reply_to)) FERRY_RETURN_IF_ERROR(detail::check_subject(m.subject, false));
    FERRY_RETURN_IF_ERROR(detail::check_message(m));
    if (m.id.empty()) m.id = new_id();
    return status::ok();
  }

  const std::string address_;
  const options options_;
  const std::shared_ptr<detail::publisher> pub_;
  std::mutex mu_;
  std::vector<std::weak_ptr<consumer>> consumers_;  // guarded by mu_
  std::atomic<bool> closed_{false};
  // Shared with a close() finished on a thread of its own.
  const std::shared_ptr<::ferry::detail::close_gate> close_ = std::make_shared<::ferry::detail::close_gate>();
};

}  // namespace

result<std::unique_ptr<transport>> connect(const std::string& address, options o) {
  if (o.exchange.empty()) {
    return invalid_argument("rabbitmq: options.exchange is empty (the default exchange cannot route by subject)");
  }
  if (o.connect_timeout <= std::chrono::milliseconds::zero() ||
      o.publish_timeout <= std::chrono::milliseconds::zero()) {
    return invalid_argument("rabbitmq: connect_timeout and publish_timeout must be positive");
  }
  if (o.max_pending == 0) return invalid_argument("rabbitmq: max_pending must be at least 1");
  FERRY_ASSIGN_OR_RETURN(auto p, detail::publisher::start(address, o));
  spdlog::info("rabbitmq: connected to {} (vhost {}, exchange {})", address, o.vhost, o.exchange);
  return std::unique_ptr<transport>(std::make_unique<rabbitmq_transport>(address, std::move(o), std::move(p)));
}

result<std::unique_ptr<transport>> connect_url(const transport_url& url) {
  url_params p(url);
  options o;
  std::string host = url.hosts;
  if (host.find(',') != std::string::npos) {
    return invalid_argument("amqp URL: one host only (\"" + host +
                            "\"): a RabbitMQ cluster is reached through one address (a load balancer or DNS name)");
  }
  if (const std::size_t at = host.rfind('@'); at != std::string::npos) {
    const std::string userinfo = host.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    FERRY_ASSIGN_OR_RETURN(o.user, percent_decode(userinfo.substr(0, colon), "the amqp URL's user"));
    if (colon != std::string::npos) {
      FERRY_ASSIGN_OR_RETURN(o.password, percent_decode(userinfo.substr(colon + 1), "the amqp URL's password"));
    }
    host = host.substr(at + 1);
  }
  if (const std::size_t slash = host.find('/'); slash != std::string::npos) {
    const std::string vhost = host.substr(slash + 1);
    host = host.substr(0, slash);
    if (!vhost.empty()) {
      FERRY_ASSIGN_OR_RETURN(o.vhost, percent_decode(vhost, "the amqp URL's vhost"));
    }
  }
  if (host.empty()) host = "127.0.0.1:5672";
  if (auto v = p.text("exchange")) o.exchange = *v;
  if (auto v = p.text("dead_letter_exchange")) o.dead_letter_exchange = *v;
  if (auto v = p.text("name")) o.connection_name = *v;
  if (auto v = p.text("unroutable")) {
    if (*v != "error" && *v != "drop")
      return invalid_argument("amqp option unroutable=\"" + *v + "\" is not error or drop");
    o.unroutable = *v == "error" ? unroutable_policy::error : unroutable_policy::drop;
  }
  const std::pair<const char*, std::chrono::milliseconds*> durations[] = {
      {"connect_timeout", &o.connect_timeout},
      {"publish_timeout", &o.publish_timeout},
      {"unused_queue_expiry", &o.unused_queue_expiry}};
  for (const auto& [key, field] : durations) {
    FERRY_ASSIGN_OR_RETURN(auto d, p.duration(key));
    if (d) *field = *d;
  }
  FERRY_ASSIGN_OR_RETURN(auto max_pending, p.integer("max_pending", 1, std::int64_t{1} << 40));
  if (max_pending) o.max_pending = static_cast<std::size_t>(*max_pending);
  FERRY_ASSIGN_OR_RETURN(auto heartbeat, p.duration("heartbeat"));
  if (heartbeat) o.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(*heartbeat);
  FERRY_RETURN_IF_ERROR(p.finish());
  return connect(host, std::move(o));
}

}  // namespace ferry::rabbitmq
