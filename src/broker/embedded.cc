// ferry::embedded_broker (include/ferry/broker.h): the public face of broker::server.
#include "broker/config_file.h"
#include "broker/server.h"
#include "ferry/broker.h"

namespace ferry {

struct embedded_broker::impl {
  std::unique_ptr<broker::server> server;
};

embedded_broker::embedded_broker(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
embedded_broker::~embedded_broker() { shutdown(); }

result<std::unique_ptr<embedded_broker>> embedded_broker::start(embedded_broker_options options) {
  broker::server_options o;
  if (!options.config_file.empty()) FERRY_RETURN_IF_ERROR(broker::load_config_file(options.config_file, o));
  if (options.config_file.empty()) {
    o.host = "127.0.0.1";
    o.port = 0;  // a free port, not ferryd's 4222: an embedded broker must not collide with a daemon
  }
  if (options.host) o.host = *options.host;
  if (options.port) o.port = *options.port;
  if (options.http_port) o.http_port = *options.http_port;
  if (options.workers) o.workers = *options.workers;
  if (options.jetstream) o.jetstream = true;
  if (!options.store_dir.empty()) o.store_dir = options.store_dir;
  if (options.sync_always) o.sync_always = true;
  FERRY_ASSIGN_OR_RETURN(auto s, broker::server::start(std::move(o)));
  auto i = std::make_unique<impl>();
  i->server = std::move(s);
  return std::unique_ptr<embedded_broker>(new embedded_broker(std::move(i)));
}

int embedded_broker::port() const { return impl_->server->port(); }
int embedded_broker::http_port() const { return impl_->server->http_port(); }
std::string embedded_broker::client_url() const { return impl_->server->client_url(); }
void embedded_broker::shutdown() {
  if (impl_ && impl_->server) impl_->server->shutdown();
}

}  // namespace ferry
