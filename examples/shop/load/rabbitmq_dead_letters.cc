// The dead letters of the shop on RabbitMQ: plain rabbitmq-c basic.gets from the dead letters'
// queue, none acknowledged (closing the channel puts them all back), like the JetStream API reads
// the DLQ stream on NATS.
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <memory>

#include "bus.h"
#include "bus_probe.h"
#include "events.h"
#include "ferry/connect.h"
#include "ferry/message.h"

namespace shop::load {
namespace {

std::string_view view(amqp_bytes_t b) { return {static_cast<const char*>(b.bytes), b.len}; }

// A header of the table as text (the transport writes them as long strings).
std::string header(const amqp_table_t& t, std::string_view name) {
  for (int i = 0; i < t.num_entries; ++i) {
    const amqp_table_entry_t& e = t.entries[i];
    if (view(e.key) == name && (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)) {
      return std::string(view(e.value.value.bytes));
    }
  }
  return {};
}

}  // namespace

ferry::result<std::vector<broker_probe::dead_letter>> rabbitmq_dead_letters(const std::string& url) {
  FERRY_ASSIGN_OR_RETURN(ferry::transport_url u, ferry::parse_transport_url(url));
  std::string host = u.hosts.empty() ? "127.0.0.1:5672" : u.hosts, user = "guest", password = "guest";
  if (const std::size_t at = host.rfind('@'); at != std::string::npos) {
    const std::string userinfo = host.substr(0, at);
    user = userinfo.substr(0, userinfo.find(':'));
    if (userinfo.find(':') != std::string::npos) password = userinfo.substr(userinfo.find(':') + 1);
    host = host.substr(at + 1);
  }
  host = host.substr(0, host.find('/'));
  const std::size_t colon = host.rfind(':');
  const int port = colon == std::string::npos ? 5672 : std::atoi(host.c_str() + colon + 1);
  std::unique_ptr<amqp_connection_state_t_, decltype(&amqp_destroy_connection)> c(amqp_new_connection(),
                                                                                  &amqp_destroy_connection);
  amqp_socket_t* sock = amqp_tcp_socket_new(c.get());
  if (sock == nullptr || amqp_socket_open(sock, host.substr(0, colon).c_str(), port) != AMQP_STATUS_OK) {
    return ferry::unavailable("rabbitmq at " + host + ": cannot connect");
  }
  if (amqp_login(c.get(), "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, user.c_str(), password.c_str())
          .reply_type != AMQP_RESPONSE_NORMAL) {
    return ferry::unavailable("rabbitmq at " + host + ": login failed");
  }
  amqp_channel_open(c.get(), 1);
  if (amqp_get_rpc_reply(c.get()).reply_type != AMQP_RESPONSE_NORMAL) return ferry::unavailable("channel.open failed");
  const std::string queue = std::string(rabbitmq_dlq_group) + "." + std::string(subject::dlq_prefix) + ">";
  std::vector<broker_probe::dead_letter> out;
  for (;;) {
    const amqp_rpc_reply_t r = amqp_basic_get(c.get(), 1, amqp_cstring_bytes(queue.c_str()), /*no_ack=*/0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) return ferry::unavailable("basic.get from " + queue + " failed");
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;  // get-empty: all read
    const std::string routing_key(view(static_cast<amqp_basic_get_ok_t*>(r.reply.decoded)->routing_key));
    amqp_message_t m;
    if (amqp_read_message(c.get(), 1, &m, 0).reply_type != AMQP_RESPONSE_NORMAL) {
      return ferry::unavailable("reading a message of " + queue + " failed");
    }
    broker_probe::dead_letter d{.subject = routing_key};
    if ((m.properties._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
      d.origin = header(m.properties.headers, ferry::header::dead_letter_subject);
      d.reason = header(m.properties.headers, ferry::header::dead_letter_reason);
    }
    amqp_destroy_message(&m);
    out.push_back(std::move(d));
  }
  (void)amqp_connection_close(c.get(), AMQP_REPLY_SUCCESS);  // unacknowledged: they stay in the queue
  return out;
}

}  // namespace shop::load
