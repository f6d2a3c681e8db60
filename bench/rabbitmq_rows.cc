// The RabbitMQ rows of transport_throughput: ferry's RabbitMQ transport against raw rabbitmq-c doing
// the same on one rabbitmq-server node (started here), on the same kind of queue: a durable quorum
// queue bound to the topic exchange "ferry".
//
// Publishing: n persistent messages of 16 bytes with a message-id, published mandatory to the
// exchange on a channel in confirm mode: one at a time (each confirm waited for) and 256 at a time
// (then their confirms). Consuming: the same n messages from a queue filled first, prefetch 256,
// each message acknowledged: raw rabbitmq-c with one basic.ack per message (as its examples do),
// ferry's subscription (max_in_flight 256) with m.ack() in the callback.
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <memory>
#include <string>

#include "ferry/rabbitmq.h"
#include "process.h"
#include "rabbitmq_server.h"
#include "throughput.h"

namespace throughput {
namespace {

using connection = std::unique_ptr<amqp_connection_state_t_, decltype(&amqp_destroy_connection)>;

amqp_bytes_t bytes(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }

bool normal(amqp_connection_state_t c) { return amqp_get_rpc_reply(c).reply_type == AMQP_RESPONSE_NORMAL; }

// A connection with channel 1 open (in confirm mode when `confirms`), or nullptr.
connection raw_connect(int port, bool confirms) {
  connection c(amqp_new_connection(), &amqp_destroy_connection);
  amqp_socket_t* s = amqp_tcp_socket_new(c.get());
  if (s == nullptr || amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK) return {nullptr, nullptr};
  if (amqp_login(c.get(), "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type !=
      AMQP_RESPONSE_NORMAL) {
    return {nullptr, nullptr};
  }
  amqp_channel_open(c.get(), 1);
  if (!normal(c.get())) return {nullptr, nullptr};
  if (confirms) {
    amqp_confirm_select(c.get(), 1);
    if (!normal(c.get())) return {nullptr, nullptr};
  }
  return c;
}

// The exchange, and a durable quorum queue bound to `subject` (what the transport declares).
bool raw_declare(amqp_connection_state_t c, const std::string& queue, const std::string& subject) {
  amqp_exchange_declare(c, 1, amqp_cstring_bytes("ferry"), amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
  if (!normal(c)) return false;
  amqp_table_entry_t type{amqp_cstring_bytes("x-queue-type"), {}};
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_queue_declare(c, 1, bytes(queue), 0, 1, 0, 0, {1, &type});
  if (!normal(c)) return false;
  amqp_queue_bind(c, 1, bytes(queue), amqp_cstring_bytes("ferry"), bytes(subject), amqp_empty_table);
  return normal(c);
}

// Raw publishes: `batch` at a time, then their confirms.
void raw_publish(int port, const std::string& subject, std::uint64_t n, std::size_t batch, runs& r) {
  connection c = raw_connect(port, true);
  if (!c) {
    r.rates.push_back(0);
    return;
  }
  const std::string payload(payload_size, 'x');
  std::uint64_t failed = 0, tag = 0;
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns();
  std::vector<char> confirmed;
  for (std::uint64_t i = 0; i < n; i += batch) {
    const std::uint64_t count = std::min<std::uint64_t>(batch, n - i), first = tag + 1;
    for (std::uint64_t j = 0; j < count; ++j) {
      const std::string id = "id-" + std::to_string(i + j);
      amqp_basic_properties_t p{};
      p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
      p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
      p.message_id = bytes(id);
      if (amqp_basic_publish(c.get(), 1, amqp_cstring_bytes("ferry"), bytes(subject), 1, 0, &p, bytes(payload)) != 0) {
        ++failed;
      }
      ++tag;
    }
    confirmed.assign(count, 0);
    std::uint64_t left = count;
    while (left > 0) {
      amqp_frame_t f;
      if (amqp_simple_wait_frame(c.get(), &f) != AMQP_STATUS_OK) {
        failed += left;
        break;
      }
      if (f.frame_type != AMQP_FRAME_METHOD) continue;
      if (f.payload.method.id != AMQP_BASIC_ACK_METHOD && f.payload.method.id != AMQP_BASIC_NACK_METHOD) continue;
      const auto* a = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);  // nack has the same head
      if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) ++failed;
      for (std::uint64_t t = a->multiple ? first : a->delivery_tag; t <= a->delivery_tag; ++t) {
        if (t >= first && !confirmed[t - first]) {
          confirmed[t - first] = 1;
          --left;
        }
      }
    }
    amqp_maybe_release_buffers(c.get());
  }
  r.pub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.rates.push_back(failed == 0 ? static_cast<double>(n) / seconds_since(start) : 0);
}

void ferry_publish(const std::string& address, const std::string& subject, std::uint64_t n, std::size_t batch,
                   runs& r) {
  auto t = ferry::rabbitmq::connect(address, {.connection_name = "bench"});
  if (!t.is_ok()) {
    r.rates.push_back(0);
    return;
  }
  sdk_publish(**t, subject, n, batch, r);
}

// Raw consumer: prefetch 256, one basic.ack per message.
void raw_consume(int port, const std::string& queue, std::uint64_t n, runs& r) {
  connection c = raw_connect(port, false);
  if (!c) {
    r.rates.push_back(0);
    return;
  }
  amqp_basic_qos(c.get(), 1, 0, 256, 0);
  amqp_basic_consume(c.get(), 1, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  if (!normal(c.get())) {
    r.rates.push_back(0);
    return;
  }
  std::uint64_t got = 0;
  const auto start = clock_type::now();
  const double cpu = thread_cpu_ns();
  const timeval wait{1, 0};
  const auto give_up = start + 120s;
  while (got < n && clock_type::now() < give_up) {
    amqp_envelope_t e;
    amqp_maybe_release_buffers(c.get());
    if (amqp_consume_message(c.get(), &e, &wait, 0).reply_type != AMQP_RESPONSE_NORMAL) continue;
    if ((e.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) ++got;  // read the id, as the transport does
    amqp_basic_ack(c.get(), 1, e.delivery_tag, 0);
    amqp_destroy_envelope(&e);
  }
  r.sub_cpu.push_back((thread_cpu_ns() - cpu) / static_cast<double>(n));
  r.rates.push_back(rate(got, n, seconds_since(start)));
}

}  // namespace

void rabbitmq_rows(int rounds, bool quick, const wanted_fn& wanted) {
  const bool pub_raw = wanted("rabbitmq-pub-raw"), pub_ferry = wanted("rabbitmq-pub-ferry"),
             batch_raw = wanted("rabbitmq-batch-raw"), batch_ferry = wanted("rabbitmq-batch-ferry"),
             con_raw = wanted("rabbitmq-consume-raw"), con_ferry = wanted("rabbitmq-consume-ferry");
  if (!pub_raw && !pub_ferry && !batch_raw && !batch_ferry && !con_raw && !con_ferry) return;
  ferry::test::rabbitmq_server server;
  if (!server.start(ferry::test::make_temp_dir("ferry-bench-rabbitmq-"))) {
    std::printf("rabbitmq-server did not start (make deps installs it)\n");
    return;
  }
  auto declarer = raw_connect(server.port(), false);
  auto ferry_t = ferry::rabbitmq::connect(server.address(), {.connection_name = "bench"});
  if (!declarer || !ferry_t.is_ok()) {
    std::printf("cannot connect to the rabbitmq-server started here\n");
    return;
  }
  const std::uint64_t one_n = quick ? 1'000 : 5'000, batch_n = quick ? 20'000 : 100'000;
  runs pr, pf, br, bf, cr, cf;
  for (int i = 0; i < rounds; ++i) {
    const std::string s = "bench." + std::to_string(i) + ".";
    // Each publishing row to a queue of its own (a message no queue takes is an error).
    for (const char* row : {"pub-raw", "pub-ferry", "batch-raw", "batch-ferry"}) {
      raw_declare(declarer.get(), s + row, s + row);
    }
    if (pub_raw) raw_publish(server.port(), s + "pub-raw", one_n, 1, pr);
    if (pub_ferry) ferry_publish(server.address(), s + "pub-ferry", one_n, 1, pf);
    if (batch_raw) raw_publish(server.port(), s + "batch-raw", batch_n, 256, br);
    if (batch_ferry) ferry_publish(server.address(), s + "batch-ferry", batch_n, 256, bf);
    if (con_raw || con_ferry) {
      // One publish fills both queues: the raw consumer's and the ferry group's.
      const std::string subject = s + "consume", group = "g" + std::to_string(i);
      raw_declare(declarer.get(), subject + ".raw", subject);
      auto declare = (*ferry_t)->subscribe(subject, {.group = group}, [](ferry::message m) { m.nack(); });
      if (declare.is_ok()) (*declare)->stop();
      runs fill;
      raw_publish(server.port(), subject, batch_n, 256, fill);
      if (con_raw) raw_consume(server.port(), subject + ".raw", batch_n, cr);
      if (con_ferry) sdk_consume(**ferry_t, subject, {.group = group, .max_in_flight = 256}, batch_n, cf);
    }
  }
  if (pub_raw) pr.print("raw rabbitmq-c, publish + confirm, one at a time");
  if (pub_ferry) pf.print("ferry rabbitmq, publish()");
  if (batch_raw) br.print("raw rabbitmq-c, 256 publishes, then confirms");
  if (batch_ferry) bf.print("ferry rabbitmq, publish(batch of 256)");
  if (con_raw) cr.print("raw rabbitmq-c, consume + basic.ack each");
  if (con_ferry) cf.print("ferry rabbitmq, subscribe + ack");
  if (pub_raw && pub_ferry && batch_raw && batch_ferry) {
    std::printf("ferry rabbitmq / raw rabbitmq-c (medians): publish() %.2f, publish(batch of 256) %.2f\n",
                pf.median() / pr.median(), bf.median() / br.median());
  }
  if (con_raw && con_ferry) {
    std::printf("ferry rabbitmq / raw rabbitmq-c (medians): consume with ack %.2f\n", cf.median() / cr.median());
  }
}

}  // namespace throughput
