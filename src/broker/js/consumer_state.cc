// Consumer info and persistence: the JSON that CONSUMER.INFO returns, the state
// snapshot written on shutdown, and the append-only ack log that keeps progress
// between snapshots.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "broker/js/consumer.h"
#include "broker/js/jetstream.h"
#include "broker/js/stream.h"
#include "store/file_io.h"
#include "store/record.h"
#include "store/syncer.h"

namespace ferry::broker::js {

namespace {

void send_confirmations(host& server, worker* w, std::vector<std::string>& replies) {
  route_options o;
  o.clients_only = true;
  for (const std::string& to : replies) server.publish(w, to, {}, {}, {}, o, /*empty_reply_field=*/true);
  replies.clear();
}

}  // namespace

// The ack log's syncs in flight (sync always). The worker writes under the stream's lock and asks
// the store's sync thread for an fdatasync; each sync's completion releases the confirmations
// written before it. A failed fdatasync may have dropped the pages it could not write, so the
// bytes not known durable are written again by the next flush (a new generation: completions of
// the old one are stale) and every confirmation still held waits for that rewrite's sync.
struct consumer::log_sync {
  struct batch {
    std::uint64_t end;                 // the log's size once these were written
    std::vector<std::string> replies;  // their confirmations
  };
  std::mutex mu;
  std::uint64_t gen = 0;        // bumped by a rewrite or a truncation
  std::uint64_t synced_to = 0;  // bytes of the log known durable in this generation
  bool failed = false;          // a sync of this generation failed: rewrite from synced_to
  bool failing = false;         // logged once per streak of failures
  std::deque<batch> held;       // waiting for a sync, in order

  // A sync of the log up to `end`, asked for in generation `gen`, is over with `st`: returns the
  // confirmations it releases.
  std::vector<std::string> synced(const status& st, std::uint64_t sync_gen, std::uint64_t end, const std::string& who) {
    std::vector<std::string> ready;
    std::lock_guard lock(mu);
    // Stale (the log was rewritten or truncated since), or a sync of these bytes failed already:
    // what it held waits for the rewrite's sync.
    if (sync_gen != gen || failed) return ready;
    if (!st.is_ok()) {
      if (!failing) spdlog::error("consumer {}: syncing the ack log failed: {}", who, st.message());
      failing = failed = true;
      return ready;
    }
    if (failing) spdlog::info("consumer {}: the ack log is synced again", who);
    failing = false;
    synced_to = std::max(synced_to, end);
    while (!held.empty() && held.front().end <= synced_to) {
      for (std::string& r : held.front().replies) ready.push_back(std::move(r));
      held.pop_front();
    }
    return ready;
  }
};

ojson consumer::info() {
  ojson j;
  j["stream_name"] = stream_name_;
  j["name"] = name_;
  j["created"] = format_rfc3339(created_ns_);
  j["config"] = to_json(cfg_);
  ojson delivered;
  delivered["consumer_seq"] = dseq_;
  delivered["stream_seq"] = last_sseq_;
  if (last_delivery_wall_ns_ != 0) delivered["last_active"] = format_rfc3339(last_delivery_wall_ns_);
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
  if (cfg_.push() && s_.js().server().has_interest(cfg_.deliver_subject)) j["push_bound"] = true;
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
  // state.rec: one consumer_state record around the JSON; state.json (before the records): the
  // JSON alone.
  std::string_view json_text = text;
  const char* file = "state.json";
  if (text.size() >= 4 && std::memcmp(text.data(), store::record::magic, 4) == 0) {
    file = "state.rec";
    store::record::frame f;
    if (store::record::parse(text, f) != store::record::parse_status::ok || f.size != text.size() ||
        f.kind != store::record::type::consumer_state) {
      return data_loss("state.rec is damaged (checksum or length)");
    }
    json_text = f.body;
  }
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return data_loss(std::string(file) + " is not a JSON object");
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
    return data_loss(std::string(file) + " is damaged: " + e.what());
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
  const std::int64_t now = s_.js().steady_ns();
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
  flush_log();
  store::file_system& fs = s_.js().fs();
  if (status d = fs.make_dirs(dir); !d.is_ok()) spdlog::warn("consumer {} > {}: {}", stream_name_, name_, d.message());
  ojson meta;
  meta["config"] = to_json(cfg_);
  meta["created"] = created_ns_;
  std::string rec;
  store::record::append_blob(rec, store::record::type::consumer_state, save_state());
  status s = store::write_file_atomic(fs, dir + "/meta.json", meta.dump(2));
  if (s.is_ok()) s = store::write_file_atomic(fs, dir + "/state.rec", rec);
  if (!s.is_ok()) {
    spdlog::error("consumer {} > {}: saving state: {}", stream_name_, name_, s.message());
    return;  // the ack log keeps what the old snapshot lacks
  }
  (void)fs.remove(dir + "/state.json");  // the format before state.rec: usually not there
  // The snapshot covers every acknowledgement so far: start a fresh log. Unless the log could not
  // be written: then the snapshot holds those acknowledgements and the log is dropped anyway.
  log_buf_.clear();
  if (log_file_ != nullptr) {
    if (status t = fs.truncate(log_file_->fd.get(), 0, log_path_); !t.is_ok()) {
      spdlog::warn("consumer {} > {}: {}", stream_name_, name_, t.message());
    }
    log_size_ = 0;
  }
  if (log_sync_ != nullptr) {
    // The snapshot is on disk (write_file_atomic syncs): every acknowledgement so far is durable,
    // whatever the log's syncs in flight say, and the log starts again as a new generation.
    std::lock_guard lock(log_sync_->mu);
    ++log_sync_->gen;
    log_sync_->failed = false;
    log_sync_->synced_to = 0;
    for (auto& b : log_sync_->held) {
      for (std::string& r : b.replies) confirmations_.push_back(std::move(r));
    }
    log_sync_->held.clear();
  }
  log_unsynced_.clear();
  unsynced_from_ = 0;
  send_confirmations(s_.js().server(), nullptr, confirmations_);
  dirty_ = false;
  last_save_ns_ = s_.js().steady_ns();
}

void consumer::maybe_save(const std::string& dir, std::int64_t now_ns) {
  if (dirty_ && now_ns - last_save_ns_ >= second) save(dir);
  flush_log();
}

// Replays acknowledgement (stream seq, consumer seq) made after the last snapshot.
void consumer::replay_ack(std::uint64_t seq, std::uint64_t dseq) {
  // What was delivered is at least what was acknowledged, so CONSUMER.INFO does not fall back to
  // the last snapshot after a crash.
  last_sseq_ = std::max(last_sseq_, seq);
  dseq_ = std::max(dseq_, dseq);
  if (pending_.erase(seq) > 0) {
    deliveries_.erase(seq);
  } else if (seq >= next_sseq_) {
    acked_beyond_.insert(seq);
  }
}

void consumer::open_log(const std::string& dir) {
  if (status d = s_.js().fs().make_dirs(dir); !d.is_ok()) {
    spdlog::warn("consumer {} > {}: {}", stream_name_, name_, d.message());
  }
  log_path_ = dir + "/acks.log";
  auto text = store::read_file(log_path_);
  std::uint64_t keep = 0;  // bytes of the log to keep: up to the end of the last whole record
  bool legacy = false;
  if (text.is_ok() && !text->empty()) {
    const std::string& t = *text;
    legacy = t[0] == 'A';
    if (legacy) {
      // The text log before the records: "A <sseq> <dseq>\n" lines; replayed, then replaced by
      // a snapshot below.
      for (std::size_t pos = 0; pos < t.size();) {
        const std::size_t nl = t.find('\n', pos);
        if (nl == std::string::npos) break;  // a torn last line: it was never confirmed
        const std::string_view line(t.data() + pos, nl - pos);
        pos = nl + 1;
        std::uint64_t seq = 0;
        std::uint64_t dseq = 0;
        if (line.size() < 3) continue;
        auto r = std::from_chars(line.data() + 2, line.data() + line.size(), seq);
        if (r.ec != std::errc()) continue;
        if (r.ptr != line.data() + line.size() && *r.ptr == ' ')
          std::from_chars(r.ptr + 1, line.data() + line.size(), dseq);
        replay_ack(seq, dseq);
      }
    } else {
      std::size_t pos = 0;
      std::uint64_t skipped = 0;
      while (pos < t.size()) {
        store::record::frame f;
        const std::string_view rest = std::string_view(t).substr(pos);
        if (store::record::parse(rest, f) == store::record::parse_status::ok) {
          std::uint64_t seq = 0;
          std::uint64_t dseq = 0;
          if (f.kind == store::record::type::ack && store::record::decode_ack(f.body, seq, dseq)) {
            replay_ack(seq, dseq);
          } else {
            skipped += f.size;
          }
          pos += f.size;
          keep = pos;
          continue;
        }
        const std::size_t next = store::record::find_next(t, pos + 1);
        if (next == std::string_view::npos) break;  // a torn tail: never confirmed, cut off below
        skipped += next - pos;
        pos = next;
      }
      if (skipped > 0) {
        // Damage inside the log: those acknowledgements are unknown, so their messages come again
        // (redelivery, never a loss).
        const std::string what = "stream " + stream_name_ + " consumer " + name_ + ": " + std::to_string(skipped) +
                                 " damaged bytes in acks.log skipped; the acknowledgements in them may be redelivered";
        spdlog::error("JetStream: {}", what);
        s_.js().report_problem(what);
      }
    }
    update_ack_floor();
    dirty_ = true;
  }
  const bool is_new = ::access(log_path_.c_str(), F_OK) != 0;
  auto fd = s_.js().fs().create(log_path_, O_WRONLY);
  if (!fd.is_ok()) {
    spdlog::error("consumer {} > {}: {}", stream_name_, name_, fd.status().message());
    return;
  }
  if (is_new) {
    // The new name must be durable before the acknowledgements confirmed through it.
    if (status s = s_.js().fs().sync_directory(store::parent_dir(log_path_)); !s.is_ok()) {
      // Not fatal: a power loss before the directory is synced again may cost the log's
      // acknowledgements (their messages come again), never a message.
      spdlog::warn("consumer {} > {}: {}", stream_name_, name_, s.message());
    }
  }
  log_file_ = std::make_shared<store::sync_file>(std::move(*fd), log_path_);
  log_sync_ = std::make_shared<log_sync>();
  if (legacy) {
    save(dir);  // the replayed acknowledgements into state.rec; truncates the text log
  } else if (text.is_ok() && keep < text->size()) {
    if (status s = s_.js().fs().truncate(log_file_->fd.get(), keep, log_path_); !s.is_ok()) {
      spdlog::warn("consumer {} > {}: {}", stream_name_, name_, s.message());
    }
  }
  log_size_ = legacy ? 0 : keep;
  // What was there is taken as synced: whatever of it was confirmed was synced before.
  log_sync_->synced_to = unsynced_from_ = log_size_;
  log_unsynced_.clear();
}

void consumer::flush_log(worker* w) {
  if (log_file_ != nullptr && s_.js().sync() == store::sync_policy::always) {
    flush_log_synced();
    return;
  }
  if (!log_buf_.empty() && log_file_ != nullptr) {
    if (!write_log(log_size_, log_buf_)) return;  // confirmations wait for the next try
    log_size_ += log_buf_.size();
    log_buf_.clear();
    // Sync interval: synced with the segments at the next interval; nothing to wait for.
    s_.store_locked().sync_file_then(log_file_, [](const status&) {});
  }
  send_confirmations(s_.js().server(), w, confirmations_);
}

void consumer::flush_log_synced() {
  log_sync& ls = *log_sync_;
  std::uint64_t gen = 0;
  {
    std::lock_guard lock(ls.mu);
    if (ls.synced_to > unsynced_from_) {  // durable now: no copy needed
      log_unsynced_.erase(0, ls.synced_to - unsynced_from_);
      unsynced_from_ = ls.synced_to;
    }
    if (ls.failed) {
      log_unsynced_ += log_buf_;
      log_buf_.clear();
      if (!write_log(unsynced_from_, log_unsynced_)) return;  // tried again next round
      log_size_ = unsynced_from_ + log_unsynced_.size();
      ls.failed = false;
      ++ls.gen;
    } else if (!log_buf_.empty()) {
      if (!write_log(log_size_, log_buf_)) return;
      log_unsynced_ += log_buf_;
      log_size_ += log_buf_.size();
      log_buf_.clear();
    } else if (confirmations_.empty()) {
      return;  // nothing new
    }
    if (!confirmations_.empty()) ls.held.push_back({log_size_, std::move(confirmations_)});
    confirmations_.clear();
    gen = ls.gen;
  }
  // Not under ls.mu: a closed store completes at once.
  s_.store_locked().sync_file_then(log_file_, [self = s_.shared_from_this(), ls = log_sync_, gen, end = log_size_,
                                               who = stream_name_ + " > " + name_](const status& st) {
    std::vector<std::string> ready = ls->synced(st, gen, end, who);
    send_confirmations(self->js().server(), nullptr, ready);  // on the sync thread: no worker
  });
}

bool consumer::write_log(std::uint64_t offset, std::string_view bytes) {
  store::file_system& fs = s_.js().fs();
  const int fd = log_file_->fd.get();
  if (status s = fs.write_at(fd, bytes, offset, log_path_); !s.is_ok()) {
    // Cut off whatever part was written (should that fail too, the next try writes at the same
    // offset over the torn bytes).
    (void)fs.truncate(fd, offset, log_path_);
    if (!log_failing_)
      spdlog::error("consumer {} > {}: writing the ack log failed: {}", stream_name_, name_, s.message());
    log_failing_ = true;
    return false;
  }
  if (log_failing_) spdlog::info("consumer {} > {}: the ack log is written again", stream_name_, name_);
  log_failing_ = false;
  return true;
}

void consumer::close_log() {
  flush_log();
  log_file_.reset();  // closed once the syncs in flight are over
}

}  // namespace ferry::broker::js
