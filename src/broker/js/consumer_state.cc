// Consumer info and persistence: the JSON that CONSUMER.INFO returns, the state
// snapshot written on shutdown, and the append-only ack log that keeps progress
// between snapshots.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "broker/core.h"
#include "broker/js/consumer.h"
#include "broker/js/jetstream.h"
#include "broker/js/stream.h"

namespace ferry::broker::js {

namespace {
constexpr std::int64_t second = 1'000'000'000;
}  // namespace

ojson consumer::info(std::int64_t now_ns) {
  ojson j;
  j["stream_name"] = stream_name_;
  j["name"] = name_;
  j["created"] = format_rfc3339(created_ns_);
  j["config"] = to_json(cfg_);
  ojson delivered;
  delivered["consumer_seq"] = dseq_;
  delivered["stream_seq"] = last_sseq_;
  if (last_delivery_ns_ != created_ns_ && dseq_ > 0) delivered["last_active"] = format_rfc3339(last_delivery_ns_);
  j["delivered"] = std::move(delivered);
  ojson floor;
  floor["consumer_seq"] = ack_floor_dseq_;
  floor["stream_seq"] = ack_floor_sseq_;
  if (last_ack_ns_ != 0) floor["last_active"] = format_rfc3339(last_ack_ns_);
  j["ack_floor"] = std::move(floor);
  j["num_ack_pending"] = pending_.size();
  j["num_redelivered"] = deliveries_.size();
  j["num_waiting"] = waiting_.size();
  j["num_pending"] = num_pending();
  // Go's omitempty: only "push_bound":true appears.
  if (cfg_.push() && !s_.js().core().subjects().match(cfg_.deliver_subject)->empty()) j["push_bound"] = true;
  (void)now_ns;
  return j;
}

std::string consumer::save_state() const {
  nlohmann::json j;
  j["next_sseq"] = next_sseq_;
  j["dseq"] = dseq_;
  j["last_sseq"] = last_sseq_;
  j["ack_floor"] = {ack_floor_dseq_, ack_floor_sseq_};
  nlohmann::json p = nlohmann::json::array();
  for (const auto& [seq, pe] : pending_) {
    auto d = deliveries_.find(seq);
    p.push_back({seq, pe.dseq, pe.ts_ns, d == deliveries_.end() ? 1 : d->second});
  }
  j["pending"] = std::move(p);
  j["initial"] = std::vector<std::uint64_t>(initial_.begin(), initial_.end());
  j["acked_beyond"] = std::vector<std::uint64_t>(acked_beyond_.begin(), acked_beyond_.end());
  return j.dump();
}

std::uint64_t consumer::highest_seen() const {
  // Only what was delivered counts: a consumer made to start at a sequence the stream has not
  // reached yet (by_start_sequence) shows that start - 1 as delivered without having seen it.
  if (dseq_ == 0) return 0;
  std::uint64_t seen = std::max(last_sseq_, ack_floor_sseq_);
  if (!pending_.empty()) seen = std::max(seen, pending_.rbegin()->first);
  if (!acked_beyond_.empty()) seen = std::max(seen, *acked_beyond_.rbegin());
  return seen;
}

status consumer::load_state(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return data_loss("state.json is not a JSON object");
  try {
    load_state_fields(j);
    return status::ok();
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong type: start over rather than keep half a state.
    next_sseq_ = 1;
    dseq_ = last_sseq_ = ack_floor_dseq_ = ack_floor_sseq_ = 0;
    pending_.clear();
    deliveries_.clear();
    initial_.clear();
    acked_beyond_.clear();
    return data_loss(std::string("state.json is damaged: ") + e.what());
  }
}

void consumer::load_state_fields(const nlohmann::json& j) {
  next_sseq_ = j.value("next_sseq", std::uint64_t{1});
  dseq_ = j.value("dseq", std::uint64_t{0});
  last_sseq_ = j.value("last_sseq", std::uint64_t{0});
  if (auto f = j.find("ack_floor"); f != j.end() && f->is_array() && f->size() == 2) {
    ack_floor_dseq_ = (*f)[0].get<std::uint64_t>();
    ack_floor_sseq_ = (*f)[1].get<std::uint64_t>();
  }
  const std::int64_t now = jetstream::now_ns();
  if (auto p = j.find("pending"); p != j.end() && p->is_array()) {
    for (const auto& e : *p) {
      if (!e.is_array() || e.size() != 4) continue;
      const std::uint64_t seq = e[0].get<std::uint64_t>();
      // Redelivered after a restart: the deadline starts again from now.
      pending_[seq] =
          pending{e[1].get<std::uint64_t>(), now + ack_wait_for(e[3].get<std::uint64_t>()), e[2].get<std::int64_t>()};
      if (e[3].get<std::uint64_t>() > 1) deliveries_[seq] = e[3].get<std::uint64_t>();
    }
  }
  if (auto i = j.find("initial"); i != j.end() && i->is_array()) {
    for (const auto& e : *i) initial_.push_back(e.get<std::uint64_t>());
  }
  if (auto a = j.find("acked_beyond"); a != j.end() && a->is_array()) {
    for (const auto& e : *a) acked_beyond_.insert(e.get<std::uint64_t>());
  }
}

void consumer::save(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ojson meta;
  meta["config"] = to_json(cfg_);
  meta["created"] = created_ns_;
  status s = store::write_file_atomic(dir + "/meta.json", meta.dump(2));
  if (s.is_ok()) s = store::write_file_atomic(dir + "/state.json", save_state());
  if (!s.is_ok()) {
    spdlog::error("consumer {} > {}: saving state: {}", stream_name_, name_, s.message());
    return;
  }
  // The snapshot covers every acknowledgement so far: start a fresh log.
  log_buf_.clear();
  if (log_fd_ >= 0 && ::ftruncate(log_fd_, 0) != 0) {
    spdlog::warn("consumer {} > {}: truncating the ack log failed", stream_name_, name_);
  }
  dirty_ = false;
  last_save_ns_ = jetstream::now_ns();
}

void consumer::maybe_save(const std::string& dir, std::int64_t now_ns) {
  if (dirty_ && now_ns - last_save_ns_ >= second) save(dir);
  flush_log();
}

void consumer::open_log(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/acks.log";
  if (auto text = store::read_file(path); text.is_ok()) {
    // Replay the acknowledgements made after the last snapshot.
    std::size_t pos = 0;
    const std::string& t = *text;
    while (pos < t.size()) {
      std::size_t nl = t.find('\n', pos);
      if (nl == std::string::npos) break;  // a torn last line: it was never confirmed
      std::string_view line(t.data() + pos, nl - pos);
      pos = nl + 1;
      if (line.size() < 3 || line[0] != 'A') continue;
      std::uint64_t seq = 0;
      auto r = std::from_chars(line.data() + 2, line.data() + line.size(), seq);
      if (r.ec != std::errc()) continue;
      // "A <sseq> <dseq>" (older logs: "A <sseq>"): what was delivered is at least what was
      // acknowledged, so CONSUMER.INFO does not fall back to the last snapshot after a crash.
      std::uint64_t dseq = 0;
      if (r.ptr != line.data() + line.size() && *r.ptr == ' ')
        std::from_chars(r.ptr + 1, line.data() + line.size(), dseq);
      last_sseq_ = std::max(last_sseq_, seq);
      dseq_ = std::max(dseq_, dseq);
      if (pending_.erase(seq) > 0) {
        deliveries_.erase(seq);
      } else if (seq >= next_sseq_) {
        acked_beyond_.insert(seq);
      }
    }
    update_ack_floor();
    dirty_ = true;
  }
  log_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd_ < 0) spdlog::error("consumer {} > {}: cannot open {}", stream_name_, name_, path);
}

void consumer::flush_log() {
  if (log_buf_.empty()) return;
  if (log_fd_ >= 0) {
    const char* p = log_buf_.data();
    std::size_t left = log_buf_.size();
    while (left > 0) {
      const ssize_t n = ::write(log_fd_, p, left);
      if (n <= 0) {
        spdlog::error("consumer {} > {}: writing the ack log failed", stream_name_, name_);
        break;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  log_buf_.clear();
}

void consumer::close_log() {
  flush_log();
  if (log_fd_ >= 0) ::close(log_fd_);
  log_fd_ = -1;
}

}  // namespace ferry::broker::js
