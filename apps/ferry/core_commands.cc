// pub, sub, request and reply.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>

#include "base/rfc3339.h"
#include "commands.h"

namespace ferry::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "ferry: %s\n", message.c_str());
  return 1;
}

std::string expand(const std::string& tmpl, long n) {
  std::string out = tmpl;
  for (std::size_t p; (p = out.find("{{Count}}")) != std::string::npos;) out.replace(p, 9, std::to_string(n));
  for (std::size_t p; (p = out.find("{{Time}}")) != std::string::npos;) {
    out.replace(p, 8, format_rfc3339(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())));
  }
  return out;
}

std::string payload_or_stdin(const std::string& data, bool data_given) {
  if (data_given && data != "-") return data;
  if (::isatty(STDIN_FILENO) != 0) std::fprintf(stderr, "Reading payload from STDIN (end with Ctrl-D)\n");
  return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
}

int run_pub(const connect_options& c, const pub_args& a_in, bool data_given) {
  pub_args a = a_in;
  if (a.count <= 0) return fail("--count must be positive");
  a.data = payload_or_stdin(a.data, data_given);
  auto s = session::open(c);
  if (!s.is_ok()) return fail(s.status().message());
  natsConnection* nc = (*s)->conn();
  for (long i = 1; i <= a.count; ++i) {
    const std::string body = expand(a.data, i);
    if (static_cast<std::int64_t>(body.size()) > (*s)->max_payload())
      return fail("message of " + std::to_string(body.size()) + " bytes exceeds the server's max_payload of " +
                  std::to_string((*s)->max_payload()));
    natsMsg* m = nullptr;
    natsStatus st = natsMsg_Create(&m, a.subject.c_str(), a.reply.empty() ? nullptr : a.reply.c_str(), body.data(),
                                   static_cast<int>(body.size()));
    if (st != NATS_OK) return fail(nats_error("invalid message", st).message());
    if (auto h = add_headers(m, a.headers); !h.is_ok()) {
      natsMsg_Destroy(m);
      return fail(h.message());
    }
    st = natsConnection_PublishMsg(nc, m);
    natsMsg_Destroy(m);
    if (st != NATS_OK) return fail(nats_error("publish to " + a.subject, st).message());
  }
  natsStatus st = natsConnection_FlushTimeout(nc, 10000);
  if (st != NATS_OK) return fail(nats_error("flush", st).message());
  // A server-side rejection (permissions) arrives asynchronously; the flush round trip above
  // guarantees it has been processed.
  if (natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED)
    return fail("connection closed by the server while publishing");
  if (!a.quiet) {
    std::fprintf(stderr, "Published %ld message%s to \"%s\"\n", a.count, a.count == 1 ? "" : "s", a.subject.c_str());
  }
  return 0;
}

int run_sub(const connect_options& c, const sub_args& a) {
  connect_options co = c;
  co.reconnect = true;
  auto s = session::open(co);
  if (!s.is_ok()) return fail(s.status().message());
  natsSubscription* sub = nullptr;
  natsStatus st = a.queue.empty()
                      ? natsConnection_SubscribeSync(&sub, (*s)->conn(), a.subject.c_str())
                      : natsConnection_QueueSubscribeSync(&sub, (*s)->conn(), a.subject.c_str(), a.queue.c_str());
  if (st != NATS_OK) return fail(nats_error("subscribe to " + a.subject, st).message());
  natsSubscription_SetPendingLimits(sub, -1, -1);
  st = natsConnection_Flush((*s)->conn());
  if (st != NATS_OK) return fail(nats_error("subscribe to " + a.subject, st).message());
  if (natsSubscription_IsValid(sub) == false) return fail("subscription to " + a.subject + " refused by the server");
  if (!a.raw) {
    std::fprintf(stderr, "Listening on \"%s\"%s%s\n", a.subject.c_str(), a.queue.empty() ? "" : " in queue group ",
                 a.queue.c_str());
  }
  long n = 0;
  while (a.count == 0 || n < a.count) {
    natsMsg* m = nullptr;
    st = natsSubscription_NextMsg(&m, sub, 1000);
    if (st == NATS_TIMEOUT) continue;
    if (st != NATS_OK) {
      natsSubscription_Destroy(sub);
      return fail(nats_error("receiving on " + a.subject, st).message());
    }
    print_message(m, ++n, a.raw);
    natsMsg_Destroy(m);
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return 0;
}

int run_request(const connect_options& c, const request_args& a_in, bool data_given) {
  request_args a = a_in;
  a.data = payload_or_stdin(a.data, data_given);
  auto timeout = parse_duration(a.timeout);
  if (!timeout.is_ok()) return fail(timeout.status().message());
  auto s = session::open(c);
  if (!s.is_ok()) return fail(s.status().message());
  natsMsg* m = nullptr;
  natsStatus st = natsMsg_Create(&m, a.subject.c_str(), nullptr, a.data.data(), static_cast<int>(a.data.size()));
  if (st != NATS_OK) return fail(nats_error("invalid request", st).message());
  if (auto h = add_headers(m, a.headers); !h.is_ok()) {
    natsMsg_Destroy(m);
    return fail(h.message());
  }
  natsMsg* reply = nullptr;
  const auto t0 = std::chrono::steady_clock::now();
  st = natsConnection_RequestMsg(&reply, (*s)->conn(), m, timeout->count());
  natsMsg_Destroy(m);
  if (st == NATS_NO_RESPONDERS) return fail("no responders on \"" + a.subject + "\"");
  if (st == NATS_TIMEOUT) return fail("no reply on \"" + a.subject + "\" within " + a.timeout);
  if (st != NATS_OK) return fail(nats_error("request to " + a.subject, st).message());
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  if (!a.raw) std::fprintf(stderr, "Received reply in %.3fms\n", static_cast<double>(us.count()) / 1000.0);
  print_message(reply, 1, a.raw, false);
  natsMsg_Destroy(reply);
  return 0;
}

int run_reply(const connect_options& c, const reply_args& a) {
  connect_options co = c;
  co.reconnect = true;
  auto s = session::open(co);
  if (!s.is_ok()) return fail(s.status().message());
  natsSubscription* sub = nullptr;
  natsStatus st = a.queue.empty()
                      ? natsConnection_SubscribeSync(&sub, (*s)->conn(), a.subject.c_str())
                      : natsConnection_QueueSubscribeSync(&sub, (*s)->conn(), a.subject.c_str(), a.queue.c_str());
  if (st != NATS_OK) return fail(nats_error("subscribe to " + a.subject, st).message());
  st = natsConnection_Flush((*s)->conn());
  if (st != NATS_OK) return fail(nats_error("subscribe to " + a.subject, st).message());
  if (!a.quiet) std::fprintf(stderr, "Replying on \"%s\"\n", a.subject.c_str());
  long n = 0;
  while (a.count == 0 || n < a.count) {
    natsMsg* m = nullptr;
    st = natsSubscription_NextMsg(&m, sub, 1000);
    if (st == NATS_TIMEOUT) continue;
    if (st != NATS_OK) {
      natsSubscription_Destroy(sub);
      return fail(nats_error("receiving on " + a.subject, st).message());
    }
    ++n;
    const char* reply = natsMsg_GetReply(m);
    if (reply == nullptr || *reply == '\0') {
      if (!a.quiet)
        std::fprintf(stderr, "[#%ld] message on \"%s\" has no reply subject; ignored\n", n, natsMsg_GetSubject(m));
    } else {
      if (!a.quiet) print_message(m, n, false);
      const std::string body = expand(a.response, n);
      st = natsConnection_Publish((*s)->conn(), reply, body.data(), static_cast<int>(body.size()));
      if (st != NATS_OK) std::fprintf(stderr, "ferry: reply to %s failed: %s\n", reply, natsStatus_GetText(st));
    }
    natsMsg_Destroy(m);
  }
  natsConnection_Flush((*s)->conn());
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return 0;
}

}  // namespace ferry::cli
