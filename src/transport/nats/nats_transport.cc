// The NATS core transport (include/ferry/nats.h).
#include <mutex>
#include <vector>

#include "base/close_gate.h"
#include "ferry/nats.h"
#include "transport/nats/client.h"
#include "transport/nats/core_source.h"
#include "transport/nats/url.h"

namespace ferry::nats {
namespace {

using detail::client;

class nats_transport final : public transport {
 public:
  explicit nats_transport(std::shared_ptr<client> c) : client_(std::move(c)) {}
  ~nats_transport() override { close(); }

  [[nodiscard]] capabilities caps() const override {
    return {.persistent = false,
            .consumer_groups = true,
            .per_key_order = false,  // queue groups have no key affinity (one subscription is in order)
            .delayed_delivery = false,
            .request_reply = true,
            .redelivery = false,
            .delivery_count = false,
            .wildcards = true,
            .no_responders = true};
  }
  [[nodiscard]] std::string_view name() const override { return "nats"; }

  status publish(message m) override { return client_->publish(m); }
  status flush(std::chrono::milliseconds timeout) override { return client_->flush(timeout); }

  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options options,
                                                  delivery_callback callback) override {
    return detail::subscribe_core(
        client_, "nats", std::move(subject), options,
        ::ferry::detail::scoped_callback(static_cast<const transport*>(this), std::move(callback)), loops_);
  }

  result<message> request(message m, std::chrono::milliseconds timeout) override {
    return client_->request(std::move(m), timeout);
  }

  void close() override {
    if (!close_->begin(::ferry::detail::callback_scope::inside(static_cast<const transport*>(this)))) return;
    client_->refuse_calls();  // first: nothing new while the subscriptions stop and the flush runs
    loops_.stop_all();
    (void)client_->flush(std::chrono::seconds(5));
    client_->close();
    ::ferry::detail::close_gate::finish(close_, static_cast<const transport*>(this));
  }

 private:
  const std::shared_ptr<client> client_;
  detail::loop_registry loops_;
  const std::shared_ptr<::ferry::detail::close_gate> close_ = std::make_shared<::ferry::detail::close_gate>();
};

}  // namespace

result<std::unique_ptr<transport>> connect(const std::string& url, options o) {
  auto c = client::connect(url, o);
  if (!c.is_ok()) return c.status();
  return std::unique_ptr<transport>(std::make_unique<nats_transport>(std::move(*c)));
}

result<std::unique_ptr<transport>> connect_url(const transport_url& url) {
  url_params p(url);
  options o;
  FERRY_RETURN_IF_ERROR(detail::read_connection_params(p, o));
  FERRY_RETURN_IF_ERROR(p.finish());
  return connect(detail::server_list(url), std::move(o));
}

}  // namespace ferry::nats
