#include "transport/nats/client.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <vector>

#include "base/subject_check.h"

namespace ferry::nats::detail {

namespace {

bool header_name_ok(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char c : n) {
    if (c <= 32 || c == ':' || c >= 127) return false;
  }
  return true;
}

bool header_value_ok(std::string_view v) {
  // One pass (find_first_of with a set would call memchr for every character).
  for (const char c : v) {
    if (c == '\0' || c == '\r' || c == '\n') return false;
  }
  return true;
}

void on_async_error(natsConnection*, natsSubscription* sub, natsStatus err, void*) {
  spdlog::warn("nats: asynchronous error on {}: {}",
               sub != nullptr ? natsSubscription_GetSubject(sub) : "the connection", natsStatus_GetText(err));
}

// Splits "a,b,c" into its URLs.
std::vector<std::string> split_urls(const std::string& url) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= url.size()) {
    std::size_t end = url.find(',', start);
    if (end == std::string::npos) end = url.size();
    std::string u = url.substr(start, end - start);
    while (!u.empty() && u.front() == ' ') u.erase(0, 1);
    while (!u.empty() && u.back() == ' ') u.pop_back();
    if (!u.empty()) out.push_back(std::move(u));
    start = end + 1;
  }
  return out;
}

// nats.c initialises itself when options are created; a message made before any connection needs
// it too (its garbage collector).
void ensure_library() {
  static const natsStatus opened = nats_Open(-1);
  (void)opened;
}

}  // namespace

status from_nats(natsStatus s, std::string_view what) {
  if (s == NATS_OK) return status::ok();
  std::string text = std::string(what) + ": " + natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr);
      last != nullptr && *last != '\0' && std::string_view(last) != natsStatus_GetText(s)) {
    text += std::string(" (") + last + ")";
  }
  switch (s) {
    case NATS_TIMEOUT:
      return deadline_exceeded(std::move(text));
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_NO_SERVER:
    case NATS_NOT_YET_CONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_IO_ERROR:
    case NATS_DRAINING:
      return unavailable(std::move(text));
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_QUEUE_NAME:
      return invalid_argument(std::move(text));
    case NATS_MAX_PAYLOAD:
    case NATS_SLOW_CONSUMER:
    case NATS_INSUFFICIENT_BUFFER:
    case NATS_NO_MEMORY:
      return resource_exhausted(std::move(text));
    case NATS_NOT_FOUND:
      return not_found(std::move(text));
    case NATS_NOT_PERMITTED:
      return permission_denied(std::move(text));
    case NATS_CONNECTION_AUTH_FAILED:
      return status(status_code::unauthenticated, std::move(text));
    case NATS_INVALID_SUBSCRIPTION:
      return failed_precondition(std::move(text));
    default:
      return internal_error(std::move(text));
  }
}

result<msg_ptr> to_nats(const message& m) {
  FERRY_RETURN_IF_ERROR(check_subject(m.subject, subject_use::publish));
  if (!m.reply.empty()) FERRY_RETURN_IF_ERROR(check_subject(m.reply, subject_use::publish));
  ensure_library();
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, m.subject.c_str(), m.reply.empty() ? nullptr : m.reply.c_str(), m.payload.data(),
                                static_cast<int>(m.payload.size()));
  if (s != NATS_OK) return from_nats(s, "creating a message for '" + m.subject + "'");
  msg_ptr msg(raw);
  for (const auto& [name, value] : m.headers) {
    if (name == header::message_id || name == header::key) continue;  // the fields win
    if (!header_name_ok(name)) return invalid_argument("header name '" + name + "' cannot travel over NATS");
    if (!header_value_ok(value)) {
      return invalid_argument("header '" + name + "' holds NUL, CR or LF, which cannot travel over NATS");
    }
    s = natsMsgHeader_Add(raw, name.c_str(), value.c_str());
    if (s != NATS_OK) return from_nats(s, "adding header '" + name + "'");
  }
  if (!m.id.empty()) {
    if (!header_value_ok(m.id)) return invalid_argument("message id holds NUL, CR or LF");
    s = natsMsgHeader_Set(raw, header::message_id.data(), m.id.c_str());  // a literal: NUL-terminated
    if (s != NATS_OK) return from_nats(s, "setting the message id");
  }
  if (!m.key.empty()) {
    if (!header_value_ok(m.key)) return invalid_argument("message key holds NUL, CR or LF");
    s = natsMsgHeader_Set(raw, header::key.data(), m.key.c_str());
    if (s != NATS_OK) return from_nats(s, "setting the message key");
  }
  return msg;
}

message from_nats(natsMsg* msg) {
  message m;
  from_nats(msg, m);
  return m;
}

void from_nats(natsMsg* msg, message& m) {
  m.subject = natsMsg_GetSubject(msg);
  if (const char* r = natsMsg_GetReply(msg); r != nullptr) m.reply = r;
  if (const char* d = natsMsg_GetData(msg); d != nullptr)
    m.payload.assign(d, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK) return;
  for (int i = 0; i < count; ++i) {
    const std::string_view name = keys[i];
    // The id and the key take their first value (no array to allocate); other headers every value.
    if (name == header::message_id || name == header::key) {
      const char* first = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &first) == NATS_OK && first != nullptr)
        (name == header::message_id ? m.id : m.key) = first;
      continue;
    }
    const char** values = nullptr;
    int n = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &n) != NATS_OK) continue;
    for (int j = 0; j < n; ++j) m.headers.add(std::string(name), values[j]);
    std::free(static_cast<void*>(values));
  }
  std::free(static_cast<void*>(keys));
}

result<std::shared_ptr<client>> client::connect(const std::string& url, const options& o) {
  natsOptions* no = nullptr;
  natsStatus s = natsOptions_Create(&no);
  if (s != NATS_OK) return from_nats(s, "creating nats options");
  auto fail = [&](natsStatus st, std::string_view what) -> status {
    natsOptions_Destroy(no);
    return from_nats(st, what);
  };
  std::vector<std::string> urls = split_urls(url);
  if (urls.empty()) return fail(NATS_INVALID_ARG, "no server URL");
  std::vector<const char*> curls;
  for (const auto& u : urls) curls.push_back(u.c_str());
  if ((s = natsOptions_SetServers(no, curls.data(), static_cast<int>(curls.size()))) != NATS_OK)
    return fail(s, "server URLs");
  if (!o.name.empty()) natsOptions_SetName(no, o.name.c_str());
  natsOptions_SetTimeout(no, o.connect_timeout.count());
  natsOptions_SetMaxReconnect(no, o.max_reconnect);
  natsOptions_SetReconnectWait(no, o.reconnect_wait.count());
  natsOptions_SetReconnectJitter(no, 10, 10);
  natsOptions_SetReconnectBufSize(no, o.reconnect_buffer_bytes);
  natsOptions_SetNoRandomize(no, true);
  natsOptions_SetErrorHandler(no, on_async_error, nullptr);
  if (o.retry_on_failed_connect) natsOptions_SetRetryOnFailedConnect(no, true, nullptr, nullptr);
  if (!o.user.empty()) natsOptions_SetUserInfo(no, o.user.c_str(), o.password.c_str());
  if (!o.token.empty()) natsOptions_SetToken(no, o.token.c_str());
  natsConnection* nc = nullptr;
  s = natsConnection_Connect(&nc, no);
  if (s != NATS_OK && !(o.retry_on_failed_connect && s == NATS_NOT_YET_CONNECTED)) {
    return fail(s, "connecting to " + url);
  }
  return std::shared_ptr<client>(new client(nc, no, o));
}

client::~client() {
  natsConnection_Destroy(nc_);
  natsOptions_Destroy(nopts_);
}

status client::publish(message& m) {
  FERRY_RETURN_IF_ERROR(check_open("publish"));
  if (m.id.empty()) m.id = new_id();
  auto msg = to_nats(m);
  if (!msg.is_ok()) return msg.status();
  const natsStatus s = natsConnection_PublishMsg(nc_, msg->get());
  if (s == NATS_OK) return status::ok();
  return closed_or("publish", from_nats(s, "publishing on '" + m.subject + "'"));
}

status client::publish_raw(const std::string& subject, std::string_view data) {
  const natsStatus s = natsConnection_Publish(nc_, subject.c_str(), data.data(), static_cast<int>(data.size()));
  return s == NATS_OK ? status::ok() : from_nats(s, "publishing on '" + subject + "'");
}

result<message> client::request(message m, std::chrono::milliseconds timeout) {
  FERRY_RETURN_IF_ERROR(check_open("request"));
  if (m.id.empty()) m.id = new_id();
  m.reply.clear();
  auto msg = to_nats(m);
  if (!msg.is_ok()) return msg.status();
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestMsg(&reply, nc_, msg->get(), timeout.count());
  if (s == NATS_NO_RESPONDERS) return unavailable("no responders on '" + m.subject + "'");
  if (s == NATS_TIMEOUT)
    return deadline_exceeded("no reply on '" + m.subject + "' within " + std::to_string(timeout.count()) + " ms");
  if (s != NATS_OK) return closed_or("request", from_nats(s, "request on '" + m.subject + "'"));
  msg_ptr owned(reply);
  return from_nats(reply);
}

status client::flush(std::chrono::milliseconds timeout) {
  return from_nats(natsConnection_FlushTimeout(nc_, std::max<std::int64_t>(timeout.count(), 1)), "flush");
}

void client::refuse_calls() { closed_.store(true); }

void client::close() {
  refuse_calls();
  natsConnection_Close(nc_);
}

status client::check_open(std::string_view call) const {
  if (!closed_.load(std::memory_order_relaxed)) return status::ok();
  return failed_precondition(std::string(call) + " after the transport was closed");
}

status client::closed_or(std::string_view call, status s) const {
  if (s.is_ok()) return s;
  status closed = check_open(call);
  return closed.is_ok() ? s : closed;
}

result<natsSubscription*> subscribe_sync(client& c, const std::string& subject, const std::string& group) {
  FERRY_RETURN_IF_ERROR(c.check_open("subscribe"));
  natsSubscription* sub = nullptr;
  natsStatus s = group.empty() ? natsConnection_SubscribeSync(&sub, c.conn(), subject.c_str())
                               : natsConnection_QueueSubscribeSync(&sub, c.conn(), subject.c_str(), group.c_str());
  if (s != NATS_OK) return c.closed_or("subscribe", from_nats(s, "subscribing to '" + subject + "'"));
  natsSubscription_SetPendingLimits(sub, c.opts().pending_limit, -1);
  // Returns once the server has the subscription, so what is published next reaches it.
  s = natsConnection_FlushTimeout(c.conn(), std::max<std::int64_t>(c.opts().connect_timeout.count(), 1));
  if (s != NATS_OK && s != NATS_CONNECTION_DISCONNECTED && s != NATS_NOT_YET_CONNECTED) {
    natsSubscription_Destroy(sub);
    return c.closed_or("subscribe", from_nats(s, "subscribing to '" + subject + "'"));
  }
  return sub;
}

}  // namespace ferry::nats::detail
