#include "broker/server.h"

#include "broker/core.h"

namespace ferry::broker {

result<std::unique_ptr<server>> server::start(server_options options) {
  auto core = std::make_unique<server_core>(std::move(options));
  FERRY_RETURN_IF_ERROR(core->start());
  return std::unique_ptr<server>(new server(std::move(core)));
}

server::server(std::unique_ptr<server_core> core) : core_(std::move(core)) {}
server::~server() { shutdown(); }

int server::port() const { return core_->port(); }
int server::http_port() const { return core_->http_port(); }
const std::string& server::id() const { return core_->id(); }
server_stats server::stats() const { return core_->stats(); }
void server::shutdown() { core_->shutdown(); }

std::string server::client_url() const {
  std::string host = core_->options().host;
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  return std::string(core_->options().tls.enabled ? "tls://" : "nats://") + host + ":" + std::to_string(core_->port());
}

}  // namespace ferry::broker
