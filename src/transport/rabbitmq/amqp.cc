#include "transport/rabbitmq/amqp.h"

#include <amqp_tcp_socket.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "base/subject_check.h"

namespace ferry::rabbitmq::detail {
namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

// The broker's reply code as a status code (AMQP 0-9-1 constants).
status_code code_of(std::uint16_t reply_code) {
  switch (reply_code) {
    case AMQP_ACCESS_REFUSED:
      return status_code::permission_denied;
    case AMQP_NOT_FOUND:
      return status_code::not_found;
    case AMQP_PRECONDITION_FAILED:
      return status_code::failed_precondition;
    case AMQP_RESOURCE_LOCKED:
      return status_code::failed_precondition;
    case AMQP_CONNECTION_FORCED:
    case AMQP_RESOURCE_ERROR:
      return status_code::unavailable;
    case AMQP_FRAME_ERROR:
    case AMQP_SYNTAX_ERROR:
    case AMQP_COMMAND_INVALID:
    case AMQP_NOT_ALLOWED:
      return status_code::invalid_argument;
    default:
      return status_code::internal;
  }
}

amqp_table_entry_t entry(std::string_view name, amqp_field_value_t v) { return {bytes(name), v}; }
amqp_field_value_t long_value(std::int64_t n) {
  amqp_field_value_t v{};
  v.kind = AMQP_FIELD_KIND_I64;
  v.value.i64 = n;
  return v;
}
amqp_field_value_t text_value(std::string_view s) {
  amqp_field_value_t v{};
  v.kind = AMQP_FIELD_KIND_UTF8;
  v.value.bytes = bytes(s);
  return v;
}

// An AMQP field value as text (headers from other clients may be numbers, booleans...).
std::optional<std::string> as_text(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      return std::string(view(v.value.bytes));
    case AMQP_FIELD_KIND_BOOLEAN:
      return v.value.boolean ? "true" : "false";
    case AMQP_FIELD_KIND_I8:
      return std::to_string(v.value.i8);
    case AMQP_FIELD_KIND_U8:
      return std::to_string(v.value.u8);
    case AMQP_FIELD_KIND_I16:
      return std::to_string(v.value.i16);
    case AMQP_FIELD_KIND_U16:
      return std::to_string(v.value.u16);
    case AMQP_FIELD_KIND_I32:
      return std::to_string(v.value.i32);
    case AMQP_FIELD_KIND_U32:
      return std::to_string(v.value.u32);
    case AMQP_FIELD_KIND_I64:
      return std::to_string(v.value.i64);
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      return std::to_string(v.value.u64);
    case AMQP_FIELD_KIND_F32:
      return std::to_string(v.value.f32);
    case AMQP_FIELD_KIND_F64:
      return std::to_string(v.value.f64);
    default:
      return std::nullopt;  // void, decimal, tables: no text
  }
}

std::optional<std::int64_t> as_integer(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<std::int64_t>(v.value.u64);
    default:
      return std::nullopt;
  }
}

}  // namespace

// --- connection ---

result<std::unique_ptr<connection>> connection::open(const std::string& address, const options& o,
                                                     const std::string& name, int channels) {
  std::string host = address;
  int port = 5672;
  if (const std::size_t colon = address.rfind(':'); colon != std::string::npos && address.back() != ']') {
    host = address.substr(0, colon);
    const std::string_view p = std::string_view(address).substr(colon + 1);
    if (std::from_chars(p.data(), p.data() + p.size(), port).ec != std::errc() || port <= 0 || port > 65535) {
      return invalid_argument("rabbitmq: bad port in \"" + address + "\"");
    }
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::unique_ptr<connection> self(new connection());
  self->c_ = amqp_new_connection();
  amqp_socket_t* sock = amqp_tcp_socket_new(self->c_);
  if (sock == nullptr) return internal_error("rabbitmq: cannot make a socket");
  timeval tv = to_timeval(o.connect_timeout);
  amqp_set_handshake_timeout(self->c_, &tv);
  amqp_set_rpc_timeout(self->c_, &tv);
  if (const int rc = amqp_socket_open_noblock(sock, host.c_str(), port, &tv); rc != AMQP_STATUS_OK) {
    self->broken_ = true;
    return unavailable("rabbitmq: cannot connect to " + address + ": " + amqp_error_string2(rc));
  }
  // connection.blocked: the broker says when a resource alarm makes it stop reading what this
  // connection publishes (the library merges this with its own capabilities).
  amqp_field_value_t yes{};
  yes.kind = AMQP_FIELD_KIND_BOOLEAN;
  yes.value.boolean = 1;
  amqp_table_entry_t capabilities[] = {entry("connection.blocked", yes)};
  amqp_field_value_t capability_table{};
  capability_table.kind = AMQP_FIELD_KIND_TABLE;
  capability_table.value.table = {1, capabilities};
  amqp_table_entry_t props[] = {entry("connection_name", text_value(name)), entry("product", text_value("ferry")),
                                entry("capabilities", capability_table)};
  const amqp_table_t table{3, props};
  const amqp_rpc_reply_t r = amqp_login_with_properties(self->c_, o.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
                                                        static_cast<int>(o.heartbeat.count()), &table,
                                                        AMQP_SASL_METHOD_PLAIN, o.user.c_str(), o.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    self->broken_ = true;
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      const auto* c = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
      const std::string text(view(c->reply_text));
      status_code code = code_of(c->reply_code);
      if (text.find("Login was refused") != std::string::npos) code = status_code::unauthenticated;
      if (text.find("not found") != std::string::npos) code = status_code::not_found;  // the vhost
      return status(code, "rabbitmq: " + address + " refused the login: " + text);
    }
    // RabbitMQ closes the socket on bad credentials without a reason (no authentication_failure_close).
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        (r.library_error == AMQP_STATUS_CONNECTION_CLOSED || r.library_error == AMQP_STATUS_SOCKET_ERROR)) {
      return status(status_code::unauthenticated,
                    "rabbitmq: " + address + " closed the connection at login (wrong user or password?)");
    }
    return unavailable(
        "rabbitmq: login to " + address + " failed: " +
        (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error) : "unexpected reply"));
  }
  for (int ch = 1; ch <= channels; ++ch) FERRY_RETURN_IF_ERROR(self->open_channel(static_cast<amqp_channel_t>(ch)));
  return self;
}

connection::~connection() {
  if (c_ == nullptr) return;
  if (!broken_) (void)amqp_connection_close(c_, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c_);
}

status connection::open_channel(amqp_channel_t ch) {
  amqp_channel_open(c_, ch);
  return rpc_status("channel.open", ch);
}

status connection::rpc_status(std::string_view what, amqp_channel_t ch) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(c_);
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return status::ok();
    case AMQP_RESPONSE_NONE:
      broken_ = true;
      return unavailable("rabbitmq: " + std::string(what) + ": no reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return check(r.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      break;
  }
  if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    // The broker closed the channel: acknowledge, and open it again for the next call.
    const amqp_channel_close_t why = *static_cast<const amqp_channel_close_t*>(r.reply.decoded);
    const status s(code_of(why.reply_code),
                   "rabbitmq: " + std::string(what) + ": " + std::string(view(why.reply_text)));
    const status reopened = reopen_channel(ch, why);
    return reopened.code() == s.code() ? s : reopened;
  }
  broken_ = true;
  if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* c = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
    amqp_connection_close_ok_t ok{};
    (void)amqp_send_method(c_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    return status(code_of(c->reply_code), "rabbitmq: " + std::string(what) + ": the broker closed the connection: " +
                                              std::string(view(c->reply_text)));
  }
  return internal_error("rabbitmq: " + std::string(what) + ": unexpected reply");
}

status connection::check(int code, std::string_view what) {
  if (code >= 0) return status::ok();
  if (code == AMQP_STATUS_TIMEOUT) return deadline_exceeded("rabbitmq: " + std::string(what) + ": timed out");
  broken_ = true;
  return unavailable("rabbitmq: " + std::string(what) + ": " + amqp_error_string2(code));
}

bool connection::buffered() const { return amqp_frames_enqueued(c_) != 0 || amqp_data_in_buffer(c_) != 0; }

result<std::optional<amqp_frame_t>> connection::next_frame(std::chrono::milliseconds timeout) {
  amqp_frame_t f;
  timeval tv = to_timeval(timeout);
  const int rc = amqp_simple_wait_frame_noblock(c_, &f, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return std::optional<amqp_frame_t>();
  FERRY_RETURN_IF_ERROR(check(rc, "reading"));
  if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* c = static_cast<const amqp_connection_close_t*>(f.payload.method.decoded);
    const std::string text(view(c->reply_text));
    amqp_connection_close_ok_t ok{};
    (void)amqp_send_method(c_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    broken_ = true;
    return unavailable("rabbitmq: the broker closed the connection: " + text);
  }
  return std::optional<amqp_frame_t>(f);
}

result<amqp_message_t> connection::read_content(amqp_channel_t ch) {
  amqp_message_t m;
  const amqp_rpc_reply_t r = amqp_read_message(c_, ch, &m, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return m;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) return check(r.library_error, "reading a message");
  broken_ = true;
  return unavailable("rabbitmq: reading a message: unexpected frame");
}

status connection::reopen_channel(amqp_channel_t ch, const amqp_channel_close_t& why) {
  const status reason(code_of(why.reply_code), "rabbitmq: the broker closed channel " + std::to_string(ch) + ": " +
                                                   std::string(view(why.reply_text)));
  amqp_channel_close_ok_t ok{};
  FERRY_RETURN_IF_ERROR(check(amqp_send_method(c_, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok), "channel.close-ok"));
  FERRY_RETURN_IF_ERROR(open_channel(ch));
  return reason;
}

// --- topology ---

status declare_exchange(connection& c, amqp_channel_t ch, const std::string& exchange) {
  amqp_exchange_declare(c.get(), ch, bytes(exchange), amqp_cstring_bytes("topic"), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  return c.rpc_status("exchange.declare " + exchange, ch);
}

status declare_queue(connection& c, amqp_channel_t ch, const queue_spec& q) {
  std::vector<amqp_table_entry_t> args;
  args.push_back(entry("x-queue-type", text_value("quorum")));
  if (q.delivery_limit > 0) args.push_back(entry("x-delivery-limit", long_value(q.delivery_limit)));
  if (!q.dead_letter_exchange.empty())
    args.push_back(entry("x-dead-letter-exchange", text_value(q.dead_letter_exchange)));
  if (q.expires_ms > 0) args.push_back(entry("x-expires", long_value(q.expires_ms)));
  const amqp_table_t table{static_cast<int>(args.size()), args.data()};
  amqp_queue_declare(c.get(), ch, bytes(q.name), /*passive=*/0, /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0,
                     table);
  status s = c.rpc_status("queue.declare " + q.name, ch);
  if (s.code() == status_code::failed_precondition) {
    return failed_precondition(s.message() + " (the queue exists with other arguments: delivery limit " +
                               std::to_string(q.delivery_limit) + " from max_deliver, dead-letter exchange \"" +
                               q.dead_letter_exchange + "\"; delete it or use the same settings)");
  }
  return s;
}

status bind_queue(connection& c, amqp_channel_t ch, const std::string& queue, const std::string& exchange,
                  const std::string& pattern) {
  amqp_queue_bind(c.get(), ch, bytes(queue), bytes(exchange), bytes(pattern), amqp_empty_table);
  return c.rpc_status("queue.bind " + queue + " to " + exchange + " with " + pattern, ch);
}

std::string binding_pattern(std::string_view subject) {
  std::string p(subject);
  if (p == ">") return "#";
  if (p.size() >= 2 && p.ends_with(".>")) p.back() = '#';
  return p;
}

status check_subject(std::string_view subject, bool pattern) {
  if (subject.find('#') != std::string_view::npos) {
    return invalid_argument("rabbitmq: '#' in subject \"" + std::string(subject) + "\" (use the NATS wildcard '>')");
  }
  FERRY_RETURN_IF_ERROR(ferry::check_subject(subject, pattern ? subject_use::subscribe : subject_use::publish));
  if (subject.size() > 255) {
    return invalid_argument(
        "rabbitmq: subject longer than 255 bytes (an AMQP routing key): " + std::string(subject.substr(0, 64)) + "...");
  }
  // NATS reads a '*' inside a token as a literal character; an AMQP binding would not.
  for (std::size_t start = 0; start <= subject.size();) {
    const std::size_t dot = std::min(subject.find('.', start), subject.size());
    const std::string_view token = subject.substr(start, dot - start);
    if (token.size() > 1 && token.find_first_of("*>") != std::string_view::npos) {
      return invalid_argument("rabbitmq: bad wildcard in \"" + std::string(subject) +
                              "\" ('*' is a whole token, '>' the whole last one)");
    }
    start = dot + 1;
  }
  return status::ok();
}

status check_message(const message& m) {
  if (m.id.size() > 255) return invalid_argument("rabbitmq: message id longer than 255 bytes");
  // The properties (id, key, headers, reply address, ...) go in one frame of AMQP_DEFAULT_FRAME_SIZE
  // (the frame_max asked for at login): past it rabbitmq-c cannot encode them, and the connection
  // would break and republish for ever. A margin covers the fixed properties and field types.
  std::size_t properties = m.id.size() + m.key.size() + m.reply.size() + 512;
  for (const auto& [name, value] : m.headers) {
    if (name.empty() || name.size() > 128) {
      return invalid_argument("rabbitmq: header name empty or longer than 128 bytes: \"" + name.substr(0, 64) + "\"");
    }
    if (name == x_delivery_count || name == header::key) {
      return invalid_argument("rabbitmq: header \"" + name + "\" is reserved (the transport sets it)");
    }
    if (name == "CC" || name == "BCC") {
      // RabbitMQ reads them as extra routing keys (sender-selected distribution), an array only:
      // a string closes the channel (PRECONDITION_FAILED).
      return invalid_argument("rabbitmq: header \"" + name + "\" is RabbitMQ's sender-selected distribution");
    }
    properties += name.size() + value.size() + 6;
  }
  if (properties > AMQP_DEFAULT_FRAME_SIZE) {
    return invalid_argument("rabbitmq: the message's headers, id and key take about " + std::to_string(properties) +
                            " bytes, more than one AMQP frame (" + std::to_string(AMQP_DEFAULT_FRAME_SIZE) + ")");
  }
  return status::ok();
}

// --- messages ---

outgoing::outgoing(const message& m, std::string_view correlation_id, std::string_view reply_to) {
  props_._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props_.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props_.message_id = bytes(m.id);
  props_.timestamp = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  if (!correlation_id.empty()) {
    props_._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    props_.correlation_id = bytes(correlation_id);
  }
  if (!reply_to.empty()) {
    props_._flags |= AMQP_BASIC_REPLY_TO_FLAG;
    props_.reply_to = bytes(reply_to);
  }
  if (m.headers.empty() && m.key.empty()) return;
  entries_.reserve(m.headers.size() + 1);
  if (!m.key.empty()) entries_.push_back(entry(header::key, text_value(m.key)));
  // Names in order of first appearance; a repeated name becomes an array of its values (the usual
  // header, named once, costs no allocation).
  const auto begin = m.headers.begin(), end = m.headers.end();
  for (auto it = begin; it != end; ++it) {
    const auto same = [&](const header_map::entry& e) { return e.first == it->first; };
    if (std::find_if(begin, it, same) != it) continue;  // in the array of its first appearance
    if (std::find_if(it + 1, end, same) == end) {
      entries_.push_back(entry(it->first, text_value(it->second)));
      continue;
    }
    auto& arr = arrays_.emplace_back();
    for (auto e = it; e != end; ++e) {
      if (same(*e)) arr.push_back(text_value(e->second));
    }
    amqp_field_value_t v{};
    v.kind = AMQP_FIELD_KIND_ARRAY;
    v.value.array = {static_cast<int>(arr.size()), arr.data()};
    entries_.push_back(entry(it->first, v));
  }
  props_._flags |= AMQP_BASIC_HEADERS_FLAG;
  props_.headers = {static_cast<int>(entries_.size()), entries_.data()};
}

message incoming(std::string_view routing_key, const amqp_basic_properties_t& p, amqp_bytes_t body, bool redelivered) {
  message m;
  m.subject.assign(routing_key);
  m.payload.assign(view(body));
  if ((p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) m.id.assign(view(p.message_id));
  if ((p._flags & AMQP_BASIC_REPLY_TO_FLAG) != 0 && p.reply_to.len > 0) {
    m.reply.assign(view(p.reply_to));
    m.reply.push_back('#');
    if ((p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) != 0) m.reply.append(view(p.correlation_id));
  }
  if ((p._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
    m.delivery.published = std::chrono::system_clock::time_point(std::chrono::seconds(p.timestamp));
  }
  std::int64_t returned = 0;
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      const std::string_view name = view(e.key);
      if (name == x_delivery_count) {
        returned = as_integer(e.value).value_or(0);
        continue;
      }
      if (name == header::key) {
        if (auto t = as_text(e.value)) m.key = std::move(*t);
        continue;
      }
      if (e.value.kind == AMQP_FIELD_KIND_ARRAY) {
        for (int j = 0; j < e.value.value.array.num_entries; ++j) {
          if (auto t = as_text(e.value.value.array.entries[j])) m.headers.add(std::string(name), std::move(*t));
        }
      } else if (auto t = as_text(e.value)) {
        m.headers.add(std::string(name), std::move(*t));
      }
    }
  }
  m.delivery.delivery_count = static_cast<std::uint64_t>(std::max<std::int64_t>(returned, 0)) + 1;
  m.delivery.redelivered = redelivered || m.delivery.delivery_count > 1;
  m.delivery.transport = "rabbitmq";
  return m;
}

}  // namespace ferry::rabbitmq::detail
