// file_store's recovery: rebuilding the index from the segment files at open, truncating a torn
// tail, skipping damaged records and working out which messages they held (state().lost).
// The rules are in docs/store-format.md.
#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "store/file_store.h"
#include "store/record.h"

namespace ferry::store {

namespace {

// "<20 digits>.seg" -> its base sequence.
bool parse_segment_name(const std::string& name, std::uint64_t& base) {
  if (name.size() != 24 || !name.ends_with(".seg")) return false;
  base = 0;
  for (std::size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    base = base * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  return base > 0;
}

// True if the file holds at least one valid record (a segment, not garbage).
result<bool> has_valid_record(int fd, std::uint64_t size, const std::string& name) {
  std::string head(std::min<std::uint64_t>(size, record::segment_header_size), '\0');
  FERRY_RETURN_IF_ERROR(read_at(fd, head.data(), head.size(), 0, name));
  record::frame f;
  if (record::parse(head, f) == record::parse_status::ok) return true;
  std::string all;
  FERRY_RETURN_IF_ERROR(read_all(fd, size, all, name));
  return record::find_next(all, 0) != std::string_view::npos;
}

constexpr std::size_t min_message_record = record::message_size(1, 0, 0);

}  // namespace

status file_store::recover() {
  recovering_ = true;
  FERRY_ASSIGN_OR_RETURN(const std::vector<std::string> names, list_dir(dir_));
  std::vector<std::pair<std::uint64_t, std::string>> files;
  for (const std::string& n : names) {
    std::uint64_t base;
    if (parse_segment_name(n, base)) files.emplace_back(base, dir_ + "/" + n);
    // A compaction that did not get to its rename: the segment itself is still the old file.
    if (n.ends_with(".tmp") && parse_segment_name(n.substr(0, n.size() - 4), base)) {
      spdlog::info("file store {}: removing {}, left by an interrupted compaction", dir_, n);
      FERRY_RETURN_IF_ERROR(fs_.remove(dir_ + "/" + n));
    }
  }
  std::sort(files.begin(), files.end());

  // A segment file with no valid record at all is not ours (or beyond repair): set it aside,
  // unless it is the last one and shorter than a segment header (a torn creation).
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i].second;
    FERRY_ASSIGN_OR_RETURN(unique_fd fd, open_file(path, O_RDWR));
    FERRY_ASSIGN_OR_RETURN(const std::uint64_t size, file_size(fd.get(), path));
    const bool last = i + 1 == files.size();
    bool keep = size == 0 ? last : false;
    if (size > 0) {
      FERRY_ASSIGN_OR_RETURN(keep, has_valid_record(fd.get(), size, path));
      keep = keep || (last && size < record::segment_header_size);
    }
    if (!keep) {
      spdlog::warn("file store {}: {} holds no valid record; renamed to .bad", dir_, path);
      if (std::rename(path.c_str(), (path + ".bad").c_str()) != 0) return errno_status("rename " + path, errno);
      continue;
    }
    auto seg = std::make_unique<segment>();
    seg->no = next_no_++;
    seg->base = files[i].first;
    seg->file = std::make_shared<sync_file>(std::move(fd), path, false, true);
    seg->written = size;
    segments_.push_back(std::move(seg));
  }

  std::vector<std::uint64_t> candidates;  // sequences damaged records may have held
  std::vector<std::uint64_t> unmatched;   // tombstones for messages not found
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const std::uint64_t next_base = i + 1 < segments_.size() ? segments_[i + 1]->base : 0;
    FERRY_RETURN_IF_ERROR(scan_segment(i, next_base, candidates, unmatched));
  }

  // Lost: what damaged records held, unless it was removed anyway.
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::sort(unmatched.begin(), unmatched.end());
  for (const std::uint64_t s : candidates) {
    if (s >= floor_written_ && !is_live(s) && !std::binary_search(unmatched.begin(), unmatched.end(), s)) {
      lost_.push_back(s);
    }
  }
  if (!lost_.empty()) spdlog::error("file store {}: {} message(s) lost to damaged records", dir_, lost_.size());

  // The last sequence: the highest any record or file name implies.
  std::uint64_t last = last_seq();
  if (!lost_.empty()) last = std::max(last, lost_.back());
  if (!unmatched.empty()) last = std::max(last, unmatched.back());
  if (!segments_.empty()) last = std::max(last, segments_.back()->base - 1);
  restore_last(last, std::nullopt);
  recovering_ = false;

  if (segments_.empty()) {
    FERRY_RETURN_IF_ERROR(create_segment(last_seq() + 1));
  } else if (active().written == 0) {
    record::append_segment_header(wbuf_, active().base);
  }
  emptied_.clear();
  for (const auto& s : segments_) {
    if (s->live == 0 && s.get() != &active()) emptied_.push_back(s->no);
  }
  FERRY_RETURN_IF_ERROR(drop_empty_segments());
  // Limits may have become tighter while the store was closed.
  return update_limits(opts_.lim);
}

// The damaged regions of one segment and the sequences they may have held. A region runs from a
// record that does not parse up to the next valid one, and held at most what fits in it: from the
// first sequence not seen yet up to the one before the next message, or, when no message follows
// in its segment, up to the next segment's base, else what later records refer to (or, failing
// that, the one message it looks like).
class file_store::damage {
 public:
  explicit damage(std::vector<std::uint64_t>& candidates) : candidates_(candidates) {}

  void add(std::size_t start, std::size_t end, std::uint64_t lo, bool message_like) {
    open_.push_back({start, end, lo, message_like});
  }
  // A tombstone or purge floor after the open regions refers to `seq`.
  void refer(std::uint64_t seq) { refs_ = std::max(refs_, seq); }
  // A message at `seq` follows the open regions.
  void message_follows(std::uint64_t seq) {
    close([seq](const region&) { return seq - 1; });
  }
  // The segment ends; `next_base` is the next segment's base (0: it was the last).
  void segment_ends(std::uint64_t next_base) {
    if (open_.empty()) return;
    if (next_base > 0) {
      close([next_base](const region&) { return next_base - 1; });
    } else {
      const std::uint64_t r = refs_;
      close([r](const region& g) { return std::max(r, g.message_like ? g.lo : g.lo - 1); });
    }
  }

 private:
  struct region {
    std::size_t start;
    std::size_t end;
    std::uint64_t lo;   // the first sequence it may have held
    bool message_like;  // it starts like a message record
  };

  template <class HighestOf>
  void close(HighestOf hi_of) {
    for (const region& r : open_) {
      const std::uint64_t fit = (r.end - r.start) / min_message_record;  // messages it can hold
      const std::uint64_t hi = std::min<std::uint64_t>(hi_of(r), r.lo + fit - 1);
      for (std::uint64_t s = r.lo; fit > 0 && s <= hi; ++s) candidates_.push_back(s);
    }
    open_.clear();
    refs_ = 0;
  }

  std::vector<std::uint64_t>& candidates_;
  std::vector<region> open_;  // not yet followed by a message
  std::uint64_t refs_ = 0;    // the highest sequence a record after them refers to
};

status file_store::scan_segment(std::size_t index, std::uint64_t next_base, std::vector<std::uint64_t>& candidates,
                                std::vector<std::uint64_t>& unmatched) {
  segment& seg = *segments_[index];
  const bool last_segment = index + 1 == segments_.size();
  std::string data;
  FERRY_RETURN_IF_ERROR(read_all(seg.file->fd.get(), seg.written, data, seg.file->name));
  damage d(candidates);
  std::size_t pos = 0;
  while (pos < data.size()) {
    record::frame f;
    if (record::parse(std::string_view(data).substr(pos), f) != record::parse_status::ok) {
      FERRY_ASSIGN_OR_RETURN(pos, skip_damage(seg, data, pos, last_segment, d));
      continue;
    }
    FERRY_RETURN_IF_ERROR(restore_record(seg, f, pos, d, unmatched));
    pos += f.size;
  }
  d.segment_ends(next_base);
  return status::ok();
}

result<std::size_t> file_store::skip_damage(segment& seg, std::string_view data, std::size_t pos, bool last_segment,
                                            damage& d) {
  const std::size_t next = record::find_next(data, pos + 1);
  if (next == std::string_view::npos && last_segment) {
    spdlog::warn("file store {}: torn tail of {} at offset {} ({} bytes) truncated", dir_, seg.file->name, pos,
                 data.size() - pos);
    FERRY_RETURN_IF_ERROR(fs_.truncate(seg.file->fd.get(), pos, seg.file->name));
    seg.written = pos;
    return data.size();
  }
  const std::string_view rest = data.substr(pos);
  const bool message_like = rest.size() >= record::frame_header && std::memcmp(rest.data(), record::magic, 4) == 0 &&
                            static_cast<std::uint8_t>(rest[8]) == static_cast<std::uint8_t>(record::type::message);
  const std::size_t end = next == std::string_view::npos ? data.size() : next;
  spdlog::error("file store {}: damaged record in {} at offset {} ({} bytes) skipped", dir_, seg.file->name, pos,
                end - pos);
  d.add(pos, end, std::max(last_seq() + 1, seg.base), message_like);
  return end;
}

bool file_store::accept_message(segment& seg, std::uint64_t seq, damage& d) {
  if (seq <= last_seq()) {
    spdlog::warn("file store {}: {} holds message {} out of order; skipped", dir_, seg.file->name, seq);
    return false;
  }
  d.message_follows(seq);
  ++seg.messages;
  return true;
}

status file_store::restore_record(segment& seg, const record::frame& f, std::size_t pos, damage& d,
                                  std::vector<std::uint64_t>& unmatched) {
  std::uint64_t seq = 0;
  switch (f.kind) {
    case record::type::segment_header: {
      record::segment_header_view h;
      if (!record::decode_segment_header(f.body, h)) break;
      if (h.version != record::format_version) {
        return data_loss(seg.file->name + " has format version " + std::to_string(h.version) + "; this build reads " +
                         std::to_string(record::format_version));
      }
      if (h.base_seq != seg.base) spdlog::warn("file store {}: {} says base {}", dir_, seg.file->name, h.base_seq);
      break;
    }
    case record::type::message: {
      record::message_view m;
      if (!record::decode_message(f.body, m) || m.subject.empty()) {
        spdlog::warn("file store {}: malformed message in {} at offset {}", dir_, seg.file->name, pos);
        break;
      }
      if (!accept_message(seg, m.seq, d)) break;
      if (m.seq < floor_written_) {
        restore_last(m.seq, m.ts_ns);
        break;
      }
      const auto size = static_cast<std::uint32_t>(file_msg_size(m.subject.size(), m.headers.size(), m.data.size()));
      restore_message(m.seq, m.subject, m.ts_ns, size, make_payload(seg.no, pos, !m.headers.empty()));
      ++seg.live;
      break;
    }
    case record::type::erased:
      if (record::decode_seq(f.body, seq) && accept_message(seg, seq, d)) restore_last(seq, std::nullopt);
      break;
    case record::type::tombstone:
      if (!record::decode_seq(f.body, seq)) break;
      if (const entry* e = live_entry(seq)) {
        const std::uint32_t target = locate(*e).segment_no;
        if (target != seg.no) seg.tombstones.emplace_back(seq, target);
        restore_remove(seq);
      } else {
        unmatched.push_back(seq);
      }
      d.refer(seq);
      break;
    case record::type::consumer_state:
    case record::type::ack:
      spdlog::warn("file store {}: {} holds a consumer record at offset {}; ignored", dir_, seg.file->name, pos);
      break;
    case record::type::purge_floor:
      if (!record::decode_seq(f.body, seq)) break;
      if (seq > floor_written_) {
        floor_written_ = seq;
        floor_no_ = seg.no;
      }
      remove_below_floor(seq);
      if (seq > 0) d.refer(seq - 1);
      break;
  }
  return status::ok();
}

}  // namespace ferry::store
