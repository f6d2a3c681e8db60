#include "session.h"

#include <cstdio>
#include <cstring>

#include "base/duration.h"

namespace ferry::cli {

status nats_error(const std::string& what, natsStatus s) {
  std::string msg = what + ": " + natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  // The last error reads "(file.c:123): text"; add the text when it says more than the status.
  if (last != nullptr && *last != '\0') {
    const char* text = std::strstr(last, "): ");
    text = text != nullptr ? text + 3 : last;
    if (std::strstr(msg.c_str(), text) == nullptr) {
      msg += " (";
      msg += text;
      msg += ")";
    }
  }
  return {s == NATS_TIMEOUT ? status_code::deadline_exceeded : status_code::unavailable, msg};
}

result<std::unique_ptr<session>> session::open(const connect_options& o) {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return nats_error("creating options", s);
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> holder(opts, natsOptions_Destroy);
  if ((s = natsOptions_SetURL(opts, o.server.c_str())) != NATS_OK) return nats_error("server URL " + o.server, s);
  natsOptions_SetName(opts, o.name.c_str());
  natsOptions_SetTimeout(opts, o.timeout.count());
  if (!o.reconnect) natsOptions_SetMaxReconnect(opts, 0);
  if (o.send_asap) natsOptions_SetSendAsap(opts, true);
  if (!o.user.empty()) natsOptions_SetUserInfo(opts, o.user.c_str(), o.password.c_str());
  if (!o.token.empty()) natsOptions_SetToken(opts, o.token.c_str());
  if (!o.tls_ca.empty() || !o.tls_cert.empty() || o.server.rfind("tls://", 0) == 0) {
    natsOptions_SetSecure(opts, true);
    if (!o.tls_ca.empty() && (s = natsOptions_LoadCATrustedCertificates(opts, o.tls_ca.c_str())) != NATS_OK)
      return nats_error("loading CA " + o.tls_ca, s);
    if (!o.tls_cert.empty() &&
        (s = natsOptions_LoadCertificatesChain(opts, o.tls_cert.c_str(), o.tls_key.c_str())) != NATS_OK)
      return nats_error("loading certificate " + o.tls_cert, s);
  }
  natsConnection* nc = nullptr;
  s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) return nats_error("could not connect to " + o.server, s);
  return std::unique_ptr<session>(new session(nc));
}

session::~session() {
  natsConnection_Drain(nc_);
  natsConnection_Destroy(nc_);
}

result<std::chrono::milliseconds> parse_duration(const std::string& s) {
  // A bare number is seconds, as the nats CLI takes it.
  FERRY_ASSIGN_OR_RETURN(auto d, ferry::parse_duration(s, {.bare_number_unit = std::chrono::seconds(1)}));
  return ceil_ms(d);
}

result<std::pair<std::string, std::string>> parse_header(const std::string& s) {
  auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return invalid_argument("invalid header \"" + s + "\" (use Key:Value)");
  std::string value = s.substr(colon + 1);
  auto b = value.find_first_not_of(" \t");
  auto e = value.find_last_not_of(" \t");
  value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  return std::make_pair(s.substr(0, colon), value);
}

status add_headers(natsMsg* m, const std::vector<std::string>& headers) {
  for (const std::string& h : headers) {
    auto kv = parse_header(h);
    if (!kv.is_ok()) return kv.status();
    natsStatus s = natsMsgHeader_Add(m, kv->first.c_str(), kv->second.c_str());
    if (s != NATS_OK) return nats_error("adding header " + kv->first, s);
  }
  return status::ok();
}

void print_message(natsMsg* m, long n, bool raw, bool header_line) {
  const char* data = natsMsg_GetData(m);
  const int len = natsMsg_GetDataLength(m);
  if (raw) {
    std::fwrite(data, 1, static_cast<std::size_t>(len), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return;
  }
  if (header_line) {
    const char* reply = natsMsg_GetReply(m);
    std::printf("[#%ld] Received on \"%s\"", n, natsMsg_GetSubject(m));
    if (reply != nullptr && *reply != '\0') std::printf(" with reply \"%s\"", reply);
    std::printf("\n");
  }
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(m, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char** values = nullptr;
      int nv = 0;
      if (natsMsgHeader_Values(m, keys[i], &values, &nv) == NATS_OK) {
        for (int k = 0; k < nv; ++k) std::printf("%s: %s\n", keys[i], values[k]);
        free(static_cast<void*>(values));
      }
    }
    free(static_cast<void*>(keys));
    if (count > 0) std::printf("\n");
  }
  std::fwrite(data, 1, static_cast<std::size_t>(len), stdout);
  std::printf("\n\n");
  std::fflush(stdout);
}

}  // namespace ferry::cli
