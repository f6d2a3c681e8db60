#include "transport/jetstream/streams.h"

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

result<bound_stream> info_of(jsCtx* js, const std::string& name) {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js, name.c_str(), nullptr, &code);
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

result<std::vector<bound_stream>> setup_streams(jsCtx* js, const options& o) {
  std::vector<bound_stream> out;
  for (const stream_config& sc : o.streams) {
    auto existing = info_of(js, sc.name);
    if (existing.is_ok()) {
      out.push_back(std::move(*existing));
      continue;
    }
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
    if (s != NATS_OK && code != stream_name_in_use) return from_js(s, code, "creating stream " + sc.name);
    auto created = info_of(js, sc.name);
    if (!created.is_ok()) return created.status();
    out.push_back(std::move(*created));
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
