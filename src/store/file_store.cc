#include "store/file_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <utility>

#include "base/check.h"
#include "store/record.h"

namespace ferry::store {

namespace {

constexpr std::size_t max_buffered = 1u << 20;  // append() writes the buffer out past this
constexpr std::uint64_t max_segment_bytes = 1ull << 30;

std::atomic<std::uint64_t> next_file_id{1};

// Read-ahead: a consumer catching up reads a segment in order, and one pread() per message cost
// ferryd more than a quarter of its CPU on pull fetch (perf, `compare.sh --only jsfetch`). A
// read that misses takes up to read_ahead_bytes from the record on, and the next records come
// from memory, as nats-server serves reads from a loaded block. The blocks belong to the reading
// thread, not to the store, so their memory is bounded by the threads (read_blocks x
// read_ahead_bytes each) whatever the number of streams, and they need no lock.
constexpr std::size_t read_ahead_bytes = 64 * 1024;
constexpr std::size_t read_blocks = 4;  // a few consumers or streams read at once without evicting each other

// A block stays right for as long as its file lives: it never reaches past what was written when
// it was read, the one in-place write (an erase) only overwrites a record that the index no longer
// points to, and a compacted segment is a new file with a new id.
struct read_block {
  std::uint64_t file = 0;   // file_store::segment::file_id; 0: empty
  std::uint64_t start = 0;  // file offset of bytes[0]
  std::string bytes;
};

thread_local std::array<read_block, read_blocks> blocks;
thread_local std::size_t next_block = 0;

}  // namespace

result<std::unique_ptr<message_store>> open_file_store(const std::string& dir, const store_options& o) {
  FERRY_ASSIGN_OR_RETURN(std::unique_ptr<file_store> s, file_store::open(dir, o));
  return std::unique_ptr<message_store>(std::move(s));
}

file_store::file_store(std::string dir, const store_options& o)
    : indexed_store(o.lim),
      dir_(std::move(dir)),
      opts_([&] {
        store_options c = o;
        c.segment_bytes = std::clamp<std::uint64_t>(c.segment_bytes, record::segment_header_size, max_segment_bytes);
        return c;
      }()),
      fs_(o.fs ? *o.fs : posix_fs()) {}

file_store::~file_store() {
  if (!closed()) {
    const status s = close();
    if (!s.is_ok()) spdlog::error("closing file store {}: {}", dir_, s.to_string());
  }
}

result<std::unique_ptr<file_store>> file_store::open(const std::string& dir, const store_options& o) {
  FERRY_RETURN_IF_ERROR((o.fs ? *o.fs : posix_fs()).make_dirs(dir));
  std::unique_ptr<file_store> s(new file_store(dir, o));
  FERRY_ASSIGN_OR_RETURN(unique_fd dfd, open_file(dir, O_RDONLY | O_DIRECTORY));
  s->dir_file_ = std::make_shared<sync_file>(std::move(dfd), dir, true);
  s->syncer_ = std::make_unique<syncer>(s->opts_.sync, s->opts_.sync_interval_ns, s->fs_);
  status st = s->recover();
  if (!st.is_ok()) {
    (void)s->syncer_->stop();  // it synced nothing yet: the recovery error is the one to report
    s->mark_closed();
    return st.with_context("opening file store " + dir);
  }
  return s;
}

// ---- Locations: payload = offset << 32 | segment no << 1 | has headers ----

std::uint64_t file_store::new_file_id() { return next_file_id.fetch_add(1); }

std::uint64_t file_store::make_payload(std::uint32_t no, std::uint64_t offset, bool headers) {
  FERRY_CHECK(offset <= 0xFFFFFFFFu && no < 0x80000000u);
  return (offset << 32) | (std::uint64_t{no} << 1) | (headers ? 1 : 0);
}

file_store::location file_store::locate(std::uint64_t payload, std::uint32_t size) {
  // The record is 8 bytes longer than file_msg_size() without headers, 4 longer with them.
  const bool headers = (payload & 1) != 0;
  return {static_cast<std::uint32_t>((payload >> 1) & 0x7FFFFFFFu), payload >> 32,
          std::uint64_t{size} + (headers ? 4 : 8)};
}

file_store::location file_store::locate(const entry& e) { return locate(e.payload, e.size); }

file_store::segment* file_store::find_segment(std::uint32_t no) const {
  const auto it = std::lower_bound(segments_.begin(), segments_.end(), no,
                                   [](const std::unique_ptr<segment>& s, std::uint32_t n) { return s->no < n; });
  return it != segments_.end() && (*it)->no == no ? it->get() : nullptr;
}

std::string file_store::segment_path(std::uint64_t base) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020" PRIu64 ".seg", base);
  return dir_ + "/" + name;
}

std::vector<std::string> file_store::segment_files() const {
  std::vector<std::string> out;
  for (const auto& s : segments_) out.push_back(s->file->name.substr(dir_.size() + 1));
  return out;
}

// ---- Writing ----

status file_store::create_segment(std::uint64_t base) {
  FERRY_CHECK(wbuf_.empty());
  const std::string path = segment_path(base);
  FERRY_ASSIGN_OR_RETURN(unique_fd fd, fs_.create(path, O_RDWR | O_EXCL));
  auto seg = std::make_unique<segment>();
  seg->no = next_no_++;
  seg->base = base;
  seg->file = std::make_shared<sync_file>(std::move(fd), path, false, true);
  if (!segments_.empty() && active().live == 0) emptied_.push_back(active().no);
  segments_.push_back(std::move(seg));
  record::append_segment_header(wbuf_, base);
  ++names_changed_;
  mark_dirty(dir_file_);  // the new name must be durable before what is in the file
  return status::ok();
}

status file_store::write_buffer() {
  if (segments_.empty()) return status::ok();
  segment& a = active();
  const std::size_t before = wbuf_.size();
  const std::uint64_t floor = floor_seq();
  if (floor > floor_written_) record::append_purge_floor(wbuf_, floor);
  if (wbuf_.empty()) return status::ok();
  const status s = fs_.write_at(a.file->fd.get(), wbuf_, a.written, a.file->name);
  if (!s.is_ok()) {
    // A partial write would read as a torn record with valid ones after it: cut it off and keep
    // the buffer for the next try (write() discards its messages).
    // Should the cut fail too, the next write starts at the same offset and covers the torn bytes.
    (void)fs_.truncate(a.file->fd.get(), a.written, a.file->name);
    wbuf_.resize(before);
    return s;
  }
  unwritten_from_ = 0;
  if (floor > floor_written_) {
    floor_written_ = floor;
    floor_no_ = a.no;
  }
  a.written += wbuf_.size();
  wbuf_.clear();
  if (wbuf_.capacity() > 4 * max_buffered) std::string().swap(wbuf_);
  mark_dirty(a.file);
  return status::ok();
}

std::uint64_t file_store::size_of(std::string_view subject, std::string_view headers, std::string_view data) const {
  return file_msg_size(subject.size(), headers.size(), data.size());
}

result<std::uint64_t> file_store::put_body(std::uint64_t seq, std::string_view subject, std::string_view headers,
                                           std::string_view data, std::int64_t ts_ns) {
  const std::size_t size = record::message_size(subject.size(), headers.size(), data.size());
  if (size - record::frame_overhead > record::max_body) return invalid_argument("message too large for the file store");
  const bool full = active().written + wbuf_.size() + size > opts_.segment_bytes;
  // A segment whose sync failed takes no more messages: no flush of it can succeed again
  // (syncer.h), so the next ones go to a new file.
  const bool failed = active().file->failed.load(std::memory_order_relaxed);
  if (active().messages > 0 && (full || failed)) {
    if (failed)
      spdlog::warn("file store {}: a sync of {} failed; appending to a new segment", dir_, active().file->name);
    FERRY_RETURN_IF_ERROR(write_buffer());
    FERRY_RETURN_IF_ERROR(create_segment(seq));
  }
  segment& a = active();
  const std::uint64_t offset = a.written + wbuf_.size();
  if (unwritten_from_ == 0) {
    unwritten_from_ = seq;
    unwritten_prev_ts_ = last_ts();
  }
  record::append_message(wbuf_, seq, ts_ns, subject, headers, data);
  ++a.messages;
  ++a.live;
  return make_payload(a.no, offset, !headers.empty());
}

result<stored_message> file_store::get_body(std::uint64_t seq, const entry& e, const std::string&) const {
  const location loc = locate(e);
  const segment* seg = find_segment(loc.segment_no);
  FERRY_CHECK(seg != nullptr);
  std::string buf;
  if (seg == segments_.back().get() && loc.offset >= seg->written) {
    buf.assign(wbuf_, loc.offset - seg->written, loc.length);
  } else {
    FERRY_RETURN_IF_ERROR(read_record(*seg, loc, buf));
  }
  record::frame f;
  record::message_view m;
  if (record::parse(buf, f) != record::parse_status::ok || f.kind != record::type::message ||
      !record::decode_message(f.body, m) || m.seq != seq) {
    return data_loss("message " + std::to_string(seq) + " is damaged in " + seg->file->name);
  }
  stored_message out;
  out.seq = stream_seq{seq};
  out.subject.assign(m.subject);
  out.headers.assign(m.headers);
  out.data.assign(m.data);
  out.timestamp_ns = m.ts_ns;
  return out;
}

status file_store::read_record(const segment& seg, const location& loc, std::string& out) const {
  for (const read_block& b : blocks) {
    if (b.file == seg.file_id && loc.offset >= b.start && loc.offset + loc.length <= b.start + b.bytes.size()) {
      out.assign(b.bytes, loc.offset - b.start, loc.length);
      return status::ok();
    }
  }
  const std::uint64_t ahead = std::min<std::uint64_t>(read_ahead_bytes, seg.written - loc.offset);
  if (loc.length > ahead) {  // larger than a block (or reaching past what was written: read_at reports it)
    out.resize(loc.length);
    return read_at(seg.file->fd.get(), out.data(), out.size(), loc.offset, seg.file->name);
  }
  read_block& b = blocks[next_block++ % read_blocks];
  b.file = 0;
  b.bytes.resize(ahead);
  FERRY_RETURN_IF_ERROR(read_at(seg.file->fd.get(), b.bytes.data(), b.bytes.size(), loc.offset, seg.file->name));
  b.file = seg.file_id;
  b.start = loc.offset;
  out.assign(b.bytes, 0, loc.length);
  return status::ok();
}

// An erased record of the smallest size: "sequence `seq` existed", which recovery takes as the
// last sequence when nothing higher follows (docs/store-format.md, rule 5).
status file_store::persist_last(std::uint64_t seq) {
  std::string rec(record::seq_record_size, '\0');
  record::write_erased(rec.data(), rec.size(), seq);
  wbuf_ += rec;
  return write_buffer();
}

// ---- Removing ----

void file_store::on_remove(std::uint64_t seq, const entry& e, bool erase) {
  segment* seg = find_segment(locate(e).segment_no);
  FERRY_CHECK(seg != nullptr && seg->live > 0);
  if (--seg->live == 0 && seg != segments_.back().get()) emptied_.push_back(seg->no);
  if (!recovering_) removed_.push_back({seq, e.payload, e.size, erase});
}

bool file_store::erase_buffered(const removal& r) {
  const location loc = locate(r.payload, r.size);
  segment* seg = find_segment(loc.segment_no);
  if (seg == nullptr) return true;  // its segment is gone already
  if (seg != &active() || loc.offset < seg->written) return false;
  record::write_erased(wbuf_.data() + (loc.offset - seg->written), loc.length, r.seq);
  return true;
}

status file_store::erase_written(const removal& r) {
  const location loc = locate(r.payload, r.size);
  segment* seg = find_segment(loc.segment_no);
  if (seg == nullptr) return status::ok();
  std::string rec(loc.length, '\0');
  record::write_erased(rec.data(), rec.size(), r.seq);
  FERRY_RETURN_IF_ERROR(fs_.write_at(seg->file->fd.get(), rec, loc.offset, seg->file->name));
  // Not for a segment whose sync failed: no sync of it can succeed again, and the tombstone in the
  // active segment records the removal anyway.
  if (!seg->file->failed.load(std::memory_order_relaxed)) mark_dirty(seg->file);
  return status::ok();
}

status file_store::after_change(change c) {
  if (recovering_ || segments_.empty()) return status::ok();
  const std::uint64_t names_before = names_changed_;
  status result;
  auto keep_first = [&result](status s) {
    if (result.is_ok() && !s.is_ok()) result = std::move(s);
  };
  // Removals at the front are covered by the purge floor that write_buffer() adds; the rest
  // need a tombstone each.
  const std::uint64_t floor = floor_seq();
  bool erase = false;
  for (const removal& r : removed_) {
    if (r.seq >= floor) {
      record::append_tombstone(wbuf_, r.seq);
      const std::uint32_t no = locate(r.payload, r.size).segment_no;
      if (no != active().no) active().tombstones.emplace_back(r.seq, no);
    }
    erase = erase || r.erase;
  }
  if (erase) {
    // Records still in the buffer are overwritten there. Written ones are overwritten in place
    // after the buffer (with their tombstones) is written, so that a torn overwrite is never
    // mistaken for a lost message.
    std::vector<const removal*> written;
    for (const removal& r : removed_) {
      if (r.erase && !erase_buffered(r)) written.push_back(&r);
    }
    if (!written.empty()) {
      status s = write_buffer();
      for (const removal* r : written) {
        if (s.is_ok()) s = erase_written(*r);
      }
      keep_first(std::move(s));
    }
  }
  // The segments a purge took messages from. Other removals never rewrite: acks of a work queue,
  // interest retention and per-subject limits remove inside a publish or an ack on the worker,
  // and limits and expiry free whole segments soon enough.
  std::vector<std::uint32_t> touched;
  if (c == change::purge) {
    for (const removal& r : removed_) touched.push_back(locate(r.payload, r.size).segment_no);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  }
  removed_.clear();
  const bool empty = floor_seq() == last_seq() + 1;
  if (c == change::purge && empty && (segments_.size() > 1 || active().messages > 0)) {
    keep_first(restart_empty());
  } else if (c == change::purge && active().messages > 0 && active().live == 0) {
    // Start a fresh active segment so the emptied one can go.
    status s = write_buffer();
    if (s.is_ok()) s = create_segment(last_seq() + 1);
    keep_first(std::move(s));
  }
  keep_first(drop_empty_segments());
  if (result.is_ok() && !touched.empty()) keep_first(compact_touched(touched));
  if (c == change::purge) {
    // A purge that was answered must not come undone: its floor and tombstones reach the file
    // now (a killed process loses nothing written), and under sync always the disk.
    if (result.is_ok()) keep_first(write_buffer());
    if (result.is_ok() && opts_.sync == sync_policy::always && !purge_flush_follows()) {
      keep_first(syncer_->sync_one(*active().file));
      // Segments it created or deleted: their names too. Else a power loss could bring back an
      // emptied segment with its messages, without the new one whose records remove them.
      if (result.is_ok() && names_changed_ != names_before) keep_first(syncer_->sync_one(*dir_file_));
    }
  }
  if (wbuf_.size() >= max_buffered) keep_first(write_buffer());
  return result;
}

status file_store::compact_touched(const std::vector<std::uint32_t>& touched) {
  // A rollup inside a publish leaves the space to later purges: no rewrite and its fsyncs on the
  // worker for every rollup.
  if (purge_flush_follows()) return status::ok();
  for (const std::uint32_t no : touched) {
    segment* seg = find_segment(no);
    if (seg == nullptr || (seg == &active() && segments_.size() > 1)) continue;  // deleted, or still growing
    FERRY_RETURN_IF_ERROR(compact(*seg));
  }
  return status::ok();
}

status file_store::compact(segment& f) {
  const bool only = segments_.size() == 1;  // then f is the active one, and may have a buffer
  const auto it = std::find_if(segments_.begin(), segments_.end(),
                               [&f](const std::unique_ptr<segment>& s) { return s.get() == &f; });
  FERRY_CHECK(it != segments_.end());
  const std::uint64_t end = only ? last_seq() + 1 : (*std::next(it))->base;  // f holds sequences below it
  std::vector<std::uint64_t> seqs;
  std::uint64_t live_bytes = 0;
  for (std::uint64_t s = std::max(floor_seq(), f.base); s < end && s <= last_seq(); ++s) {
    if (const entry* e = live_entry(s); e != nullptr && locate(*e).segment_no == f.no) {
      seqs.push_back(s);
      live_bytes += locate(*e).length;
    }
  }
  // Tombstones in f for messages of older segments still there: kept, or those would come back.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> tombstones;
  for (const auto& t : f.tombstones) {
    if (find_segment(t.second) != nullptr) tombstones.push_back(t);
  }
  const std::uint64_t kept = record::segment_header_size + 2 * record::seq_record_size + live_bytes +
                             tombstones.size() * record::seq_record_size;
  const std::uint64_t size = f.written + (only ? wbuf_.size() : 0);
  if (seqs.empty() || kept * 2 > size) return status::ok();  // emptied (deleted), or mostly live
  if (only) {
    // Every record of the active segment in the file first (this writes the new purge floor
    // too), and under sync always durable there: should the rename not become durable, the old
    // file is what a power loss leaves, and it must hold every message acknowledged meanwhile.
    FERRY_RETURN_IF_ERROR(write_buffer());
    if (opts_.sync == sync_policy::always) FERRY_RETURN_IF_ERROR(syncer_->sync_one(*f.file));
  }

  // The new file: the header, the purge floor if this file holds the one on disk, the tombstones
  // for messages of older segments, the live records as they are (each carries its sequence and
  // checksum). Nothing else in f is needed: its other tombstones refer to its own removed messages
  // (not copied either) or to segments gone; a record of the last sequence matters only in the
  // active segment (below); a sealed one has younger segments named after later sequences.
  std::string out;
  record::append_segment_header(out, f.base);
  if (floor_no_ == f.no) record::append_purge_floor(out, floor_written_);
  for (const auto& t : tombstones) record::append_tombstone(out, t.first);
  std::vector<std::uint64_t> payloads;
  payloads.reserve(seqs.size());
  std::string rec;
  for (const std::uint64_t s : seqs) {
    const entry& e = *live_entry(s);
    record::frame fr;
    record::message_view m;
    if (status st = read_record(f, locate(e), rec); !st.is_ok() || record::parse(rec, fr) != record::parse_status::ok ||
                                                    fr.kind != record::type::message ||
                                                    !record::decode_message(fr.body, m) || m.seq != s) {
      spdlog::warn("file store {}: {} not compacted: message {} does not read back", dir_, f.file->name, s);
      return status::ok();
    }
    payloads.push_back(make_payload(f.no, out.size(), (e.payload & 1) != 0));
    out += rec;
  }
  // The last sequence of the stream may be a removed message of the active segment: what says it
  // existed is kept (persist_last's record), so that sequences never go back.
  const bool last_removed = only && last_seq() > seqs.back();
  if (last_removed) {
    const std::size_t at = out.size();
    out.resize(at + record::seq_record_size);
    record::write_erased(out.data() + at, record::seq_record_size, last_seq());
  }

  // Written and synced under a temporary name, then renamed over the segment: a crash leaves the
  // old file or the new one, each complete (recovery removes a leftover temporary).
  const std::string path = f.file->name, tmp = path + ".tmp";
  auto fd = fs_.create(tmp, O_RDWR | O_TRUNC);
  status s = fd.status();
  if (s.is_ok()) s = fs_.write_at(fd->get(), out, 0, tmp);
  if (s.is_ok()) s = fs_.sync(fd->get(), false, tmp);
  if (s.is_ok()) s = fs_.rename(tmp, path);
  if (!s.is_ok()) {
    (void)fs_.remove(tmp);
    spdlog::warn("file store {}: {} not compacted: {}", dir_, path, s.to_string());
    return status::ok();
  }
  spdlog::info("file store {}: compacted {} after removals: {} -> {} bytes ({} messages kept)", dir_, path, f.written,
               out.size(), seqs.size());
  f.file = std::make_shared<sync_file>(std::move(*fd), path, false, true);
  f.file_id = new_file_id();  // the threads' read-ahead blocks of the old file no longer match
  f.written = out.size();
  f.messages = seqs.size() + (last_removed ? 1 : 0);  // as recovery counts them
  f.tombstones = std::move(tombstones);
  for (std::size_t i = 0; i < seqs.size(); ++i) move_body(seqs[i], payloads[i]);
  // The new name must be durable for the space to stay given back; either file is complete, so a
  // failure here costs nothing but that.
  if (status d = syncer_->sync_one(*dir_file_); !d.is_ok()) {
    spdlog::warn("file store {}: syncing the directory after compacting {}: {}", dir_, path, d.to_string());
    // The active segment's next appends go to the new file: the next flush syncs the directory
    // again before it acknowledges them.
    mark_dirty(dir_file_);
  }
  return status::ok();
}

status file_store::drop_empty_segments() {
  status result;
  while (!emptied_.empty()) {
    const std::uint32_t no = emptied_.back();
    emptied_.pop_back();
    const segment* seg = find_segment(no);
    if (seg == nullptr || seg == &active() || seg->live > 0) continue;
    status s = delete_segment(no);
    if (!s.is_ok()) {
      spdlog::warn("file store {}: {}", dir_, s.to_string());
      if (result.is_ok()) result = std::move(s);
    }
  }
  return result;
}

status file_store::delete_segment(std::uint32_t no) {
  segment* seg = find_segment(no);
  FERRY_CHECK(seg != nullptr && seg != &active());
  // Carry forward what the surviving segments still need from this one: tombstones for their
  // messages, and the purge floor if older segments may hold messages below it.
  bool carried = false;
  for (const auto& [seq, target] : seg->tombstones) {
    if (find_segment(target) == nullptr) continue;
    record::append_tombstone(wbuf_, seq);
    if (target != active().no) active().tombstones.emplace_back(seq, target);
    carried = true;
  }
  if (floor_no_ == no && segments_.front()->no != no) {
    floor_written_ = 0;  // write_buffer() writes the floor again
    carried = true;
  }
  if (carried) {
    // Synced before the file goes, whatever the policy: the removal may reach the disk before the
    // next periodic sync (a directory sync for another reason, the file system's own journal),
    // and the deletes the file recorded would come back with what it covered.
    FERRY_RETURN_IF_ERROR(write_buffer());
    FERRY_RETURN_IF_ERROR(syncer_->sync_one(*active().file));
  }
  // Forgotten only once it is gone: a file still there keeps what refers to it (tombstones).
  FERRY_RETURN_IF_ERROR(fs_.remove(seg->file->name));
  segments_.erase(std::find_if(segments_.begin(), segments_.end(),
                               [no](const std::unique_ptr<segment>& s) { return s->no == no; }));
  ++names_changed_;
  mark_dirty(dir_file_);  // the next flush makes the removal durable too
  return status::ok();
}

status file_store::restart_empty() {
  // Nothing in the buffer matters any more: every message is gone, and the new segment's name
  // records the last sequence.
  wbuf_.clear();
  unwritten_from_ = 0;
  if (active().messages == 0 && active().base == last_seq() + 1) {
    // An empty active segment named after the next sequence already (an earlier purge emptied the
    // one before it): it is the fresh segment, and a second file of its name cannot be made.
    if (active().written == 0) record::append_segment_header(wbuf_, active().base);
  } else {
    FERRY_RETURN_IF_ERROR(create_segment(last_seq() + 1));
  }
  // The new name must be durable before the files that record the last sequence go, whatever
  // the sync policy: purges are rare.
  FERRY_RETURN_IF_ERROR(syncer_->sync_one(*dir_file_));
  // Oldest first: at every step, what is left is a consistent store (tombstones and floors only
  // refer to older segments).
  while (segments_.size() > 1) {
    FERRY_RETURN_IF_ERROR(fs_.remove(segments_.front()->file->name));
    segments_.erase(segments_.begin());
    mark_dirty(dir_file_);
  }
  emptied_.clear();
  floor_written_ = 0;
  floor_no_ = active().no;
  return write_buffer();
}

status file_store::write() {
  if (closed()) return failed_precondition("store is closed");
  status s = write_buffer();
  if (!s.is_ok()) discard_unwritten();
  return s;
}

void file_store::discard_unwritten() {
  if (unwritten_from_ == 0) return;
  const std::uint64_t from = unwritten_from_;
  unwritten_from_ = 0;
  segment& a = active();  // unwritten messages are all in it: a rotation writes the buffer first
  std::string kept;
  std::size_t pos = 0;
  while (pos < wbuf_.size()) {
    record::frame f;
    FERRY_CHECK(record::parse(std::string_view(wbuf_).substr(pos), f) == record::parse_status::ok);
    std::uint64_t seq = 0;
    record::message_view m;
    if (f.kind == record::type::message && record::decode_message(f.body, m)) {
      seq = m.seq;
    } else if (f.kind == record::type::erased || f.kind == record::type::tombstone) {
      (void)record::decode_seq(f.body, seq);  // the buffer's own records: they decode
    }
    if (seq >= from) {
      if (f.kind != record::type::tombstone) --a.messages;
    } else {
      kept.append(wbuf_, pos, f.size);
    }
    pos += f.size;
  }
  wbuf_ = std::move(kept);
  for (std::uint64_t s = from; s <= last_seq(); ++s) {
    if (live_entry(s) != nullptr) --a.live;
  }
  discard_after(from - 1, unwritten_prev_ts_);
}

// ---- Flushing and closing ----

void file_store::flush_then(std::function<void(status)> done) {
  if (closed()) {
    done(failed_precondition("store is closed"));
    return;
  }
  status s = write();
  if (!s.is_ok() || opts_.sync != sync_policy::always) {
    done(std::move(s));
    return;
  }
  // Its bytes went to the syncer's rounds from the first one marked dirty since the last flush.
  syncer_->request(std::move(done), std::exchange(unrequested_since_, 0));
}

void file_store::mark_dirty(const sync_file_ptr& f) {
  const std::uint64_t gen = syncer_->dirty(f);
  if (unrequested_since_ == 0) unrequested_since_ = gen;
}

void file_store::sync_file_then(sync_file_ptr f, std::function<void(status)> done) {
  if (closed()) {
    done(failed_precondition("store is closed"));
    return;
  }
  const std::uint64_t since = syncer_->dirty(std::move(f));
  if (opts_.sync == sync_policy::always) {
    syncer_->request(std::move(done), since);
  } else {
    done(status::ok());
  }
}

status file_store::close() {
  if (closed()) return status::ok();
  status s = write_buffer();
  status st = syncer_->stop();
  if (s.is_ok()) s = std::move(st);
  mark_closed();
  clear_index();
  segments_.clear();
  wbuf_.clear();
  return s;
}

status file_store::destroy() {
  status s = close();
  auto names = list_dir(dir_);
  if (!names.is_ok()) return names.status();
  for (const std::string& n : *names) {
    if (n.ends_with(".seg") || n.ends_with(".bad") || n.ends_with(".seg.tmp")) {
      status r = fs_.remove(dir_ + "/" + n);
      if (s.is_ok()) s = std::move(r);
    }
  }
  if (::rmdir(dir_.c_str()) != 0 && errno != ENOTEMPTY && errno != EEXIST && s.is_ok()) {
    s = errno_status("rmdir " + dir_, errno);
  }
  return s;
}

}  // namespace ferry::store
