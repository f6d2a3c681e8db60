#include "transport/jetstream/streams.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "transport/nats/client.h"

namespace ferry::jetstream::detail {

namespace {

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

// jsErrCode values (nats-server's JSErrCode) this file cares about.
constexpr jsErrCode stream_name_in_use = static_cast<jsErrCode>(10058);

// Sets `retry` when it failed only for want of an answer.
result<bound_stream> info_of(jsCtx* js, const std::string& name, bool& retry) {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js, name.c_str(), nullptr, &code);
  retry = no_answer_yet(s, code);
  if (s != NATS_OK) return from_js(s, code, "stream info of " + name);
  bound_stream b{name, {}};
  for (int i = 0; si->Config != nullptr && i < si->Config->SubjectsLen; ++i)
    b.subjects.emplace_back(si->Config->Subjects[i]);
  jsStreamInfo_Destroy(si);
  return b;
}

}  // namespace

bool subjects_overlap(std::string_view a, std::string_view b) {
  const auto ta = tokens(a), tb = tokens(b);
  for (std::size_t i = 0;; ++i) {
    const bool a_end = i == ta.size(), b_end = i == tb.size();
    if (a_end || b_end) return a_end && b_end;
    if (ta[i] == ">" || tb[i] == ">") return true;
    if (ta[i] != "*" && tb[i] != "*" && ta[i] != tb[i]) return false;
  }
}

status from_js(natsStatus s, jsErrCode code, std::string_view what) {
  if (s == NATS_OK) return status::ok();
  status base = nats::detail::from_nats(s, what);
  if (code == 0) return base;
  const std::string text = base.message() + " [jetstream error " + std::to_string(static_cast<int>(code)) + "]";
  switch (static_cast<int>(code)) {
    case 10059:  // stream not found
    case 10014:  // consumer not found
      return not_found(text);
    case 10058:  // stream name in use with another configuration
    case 10013:  // consumer name in use
      return already_exists(text);
    case 10008:  // JetStream temporarily unavailable (no leader yet)
      return unavailable(text);
    default:
      return status(base.code() == status_code::internal ? status_code::failed_precondition : base.code(), text);
  }
}

bool no_answer_yet(natsStatus s, jsErrCode code) { return s == NATS_TIMEOUT || code == JSClusterNotAvailErr; }

status ask_until_answered(const options& o, const std::function<status(bool& retry)>& once,
                          const std::function<bool()>& keep_asking) {
  const auto give_up = std::chrono::steady_clock::now() + o.setup_timeout;
  std::chrono::milliseconds wait(25);
  for (int tries = 1;; ++tries) {
    bool retry = false;
    status s = once(retry);
    if (s.is_ok() || !retry || (keep_asking && !keep_asking())) return s;
    if (std::chrono::steady_clock::now() + wait >= give_up) {
      return status(s.code(), s.message() + " (still after " + std::to_string(tries) + " tries in setup_timeout, " +
                                  std::to_string(o.setup_timeout.count()) + " ms)");
    }
    spdlog::debug("jetstream: {}; asking again in {} ms", s.message(), wait.count());
    std::this_thread::sleep_for(wait);
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::milliseconds(250));
  }
}

namespace {

// Binds the stream, or creates it first when it is missing (and o.create_streams). A creation
// whose answer timed out may have been carried out: the next try finds the stream.
result<bound_stream> setup_stream(jsCtx* js, const options& o, const stream_config& sc, bool& retry) {
  auto existing = info_of(js, sc.name, retry);
  if (existing.is_ok() || retry) return existing;
  if (existing.status().code() != status_code::not_found || !o.create_streams) return existing.status();
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = sc.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& s : sc.subjects) subjects.push_back(s.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = sc.store == storage::memory ? js_MemoryStorage : js_FileStorage;
  cfg.Replicas = sc.replicas;
  cfg.MaxAge = sc.max_age.count() * 1'000'000;
  cfg.MaxMsgs = sc.max_msgs;
  cfg.MaxBytes = sc.max_bytes;
  cfg.Duplicates = sc.duplicate_window.count() * 1'000'000;
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &code);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK && code != stream_name_in_use) {
    retry = no_answer_yet(s, code);
    return from_js(s, code, "creating stream " + sc.name);
  }
  return info_of(js, sc.name, retry);
}

}  // namespace

result<std::vector<bound_stream>> setup_streams(jsCtx* js, const options& o) {
  std::vector<bound_stream> out;
  for (const stream_config& sc : o.streams) {
    bound_stream b;
    FERRY_RETURN_IF_ERROR(ask_until_answered(o, [&](bool& retry) {
      auto r = setup_stream(js, o, sc, retry);
      if (!r.is_ok()) return r.status();
      b = std::move(*r);
      return status::ok();
    }));
    out.push_back(std::move(b));
  }
  return out;
}

const bound_stream* stream_for(const std::vector<bound_stream>& streams, std::string_view subject, status* error) {
  const bound_stream* found = nullptr;
  for (const auto& b : streams) {
    for (const auto& s : b.subjects) {
      if (!subjects_overlap(s, subject)) continue;
      if (found != nullptr && found != &b) {
        if (error != nullptr) {
          *error = invalid_argument("subject '" + std::string(subject) + "' spans streams " + found->name + " and " +
                                    b.name);
        }
        return nullptr;
      }
      found = &b;
    }
  }
  return found;
}

}  // namespace ferry::jetstream::detail
