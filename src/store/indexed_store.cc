#include "store/indexed_store.h"

#include <algorithm>
#include <limits>

#include "base/check.h"

namespace ferry::store {

namespace {

constexpr std::uint64_t no_seq = std::numeric_limits<std::uint64_t>::max();

// True if `filter` has a `*` or `>` token (else it names one subject).
bool has_wildcards(std::string_view filter) {
  std::size_t p = 0;
  for (;;) {
    const std::size_t e = filter.find('.', p);
    const std::string_view t = filter.substr(p, e == std::string_view::npos ? std::string_view::npos : e - p);
    if (t == "*" || t == ">") return true;
    if (e == std::string_view::npos) return false;
    p = e + 1;
  }
}

}  // namespace

// Answers "does subject id k match the filter" once per id per query.
class indexed_store::matcher {
 public:
  matcher(const indexed_store& s, std::string_view filter) : s_(s), filter_(filter) {}
  bool operator()(std::uint32_t k) {
    if (filter_.empty()) return true;
    if (k >= cache_.size()) cache_.resize(s_.subjects_.size(), -1);
    std::int8_t& c = cache_[k];
    if (c < 0) c = subject_filter_matches(filter_, s_.subjects_[k].name) ? 1 : 0;
    return c == 1;
  }

 private:
  const indexed_store& s_;
  std::string_view filter_;
  std::vector<std::int8_t> cache_;
};

// ---- Lookups ----

const indexed_store::entry* indexed_store::find(std::uint64_t seq) const {
  if (seq < base_ || seq > last_ || entries_.empty()) return nullptr;
  const entry& e = entries_[seq - base_];
  return e.subject == dead ? nullptr : &e;
}

void indexed_store::move_body(std::uint64_t seq, std::uint64_t payload) {
  FERRY_CHECK(find(seq) != nullptr);
  entries_[seq - base_].payload = payload;
}

bool indexed_store::live_in(std::uint64_t seq, std::uint32_t k) const {
  const entry* e = find(seq);
  return e != nullptr && e->subject == k;
}

std::optional<std::uint32_t> indexed_store::subject_id(std::string_view subject) const {
  const auto it = subject_ids_.find(subject);
  if (it == subject_ids_.end()) return std::nullopt;
  return it->second;
}

status indexed_store::closed_status() const { return failed_precondition("store is closed"); }

std::uint64_t indexed_store::count_live(std::uint64_t from, std::uint64_t to) const {
  std::uint64_t n = 0;
  for (std::uint64_t s = std::max(from, base_); s < to && s <= last_; ++s) {
    if (entries_[s - base_].subject != dead) ++n;
  }
  return n;
}

std::uint64_t indexed_store::subject_pending(const subject_state& ss, std::uint32_t k, std::uint64_t from) const {
  if (ss.seqs[ss.head] >= from) return ss.live;
  auto it = std::lower_bound(ss.seqs.begin() + static_cast<std::ptrdiff_t>(ss.head), ss.seqs.end(), from);
  std::uint64_t n = 0;
  for (; it != ss.seqs.end(); ++it) {
    if (live_in(*it, k)) ++n;
  }
  return n;
}

std::optional<std::uint64_t> indexed_store::next_match(std::uint64_t from, std::string_view filter) const {
  const std::uint64_t start = std::max(from, base_);
  if (msgs_ == 0 || start > last_) return std::nullopt;
  if (!filter.empty() && !has_wildcards(filter)) {
    const auto k = subject_id(filter);
    if (!k) return std::nullopt;
    const subject_state& ss = subjects_[*k];
    for (auto it = std::lower_bound(ss.seqs.begin() + static_cast<std::ptrdiff_t>(ss.head), ss.seqs.end(), start);
         it != ss.seqs.end(); ++it) {
      if (live_in(*it, *k)) return *it;
    }
    return std::nullopt;
  }
  matcher m(*this, filter);
  if (!filter.empty() && subjects_.size() * 4 < last_ - start + 1) {
    // Few subjects, long range: ask each matching subject for its first sequence >= start.
    std::uint64_t best = no_seq;
    for (std::uint32_t k = 0; k < subjects_.size(); ++k) {
      const subject_state& ss = subjects_[k];
      if (ss.live == 0 || ss.seqs.back() < start || !m(k)) continue;
      for (auto it = std::lower_bound(ss.seqs.begin() + static_cast<std::ptrdiff_t>(ss.head), ss.seqs.end(), start);
           it != ss.seqs.end() && *it < best; ++it) {
        if (live_in(*it, k)) {
          best = *it;
          break;
        }
      }
    }
    return best == no_seq ? std::nullopt : std::optional<std::uint64_t>(best);
  }
  for (std::uint64_t s = start; s <= last_; ++s) {
    const entry& e = entries_[s - base_];
    if (e.subject != dead && m(e.subject)) return s;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> indexed_store::last_match(std::string_view filter) const {
  if (msgs_ == 0) return std::nullopt;
  if (!filter.empty() && !has_wildcards(filter)) {
    const auto k = subject_id(filter);
    if (!k) return std::nullopt;
    return subjects_[*k].seqs.back();
  }
  matcher m(*this, filter);
  if (!filter.empty() && subjects_.size() < entries_.size()) {
    std::uint64_t best = 0;
    for (std::uint32_t k = 0; k < subjects_.size(); ++k) {
      const subject_state& ss = subjects_[k];
      if (ss.live > 0 && ss.seqs.back() > best && m(k)) best = ss.seqs.back();
    }
    return best == 0 ? std::nullopt : std::optional<std::uint64_t>(best);
  }
  for (std::uint64_t s = last_; s >= base_; --s) {
    const entry& e = entries_[s - base_];
    if (e.subject != dead && m(e.subject)) return s;
  }
  return std::nullopt;
}

result<stored_message> indexed_store::load_at(std::uint64_t seq) const {
  const entry* e = find(seq);
  if (e == nullptr) return not_found("no message " + std::to_string(seq));
  return get_body(seq, *e, subjects_[e->subject].name);
}

result<stored_message> indexed_store::load(stream_seq seq) const {
  if (closed_) return closed_status();
  return load_at(seq.value);
}

result<stored_message> indexed_store::load_next(stream_seq from, std::string_view filter) const {
  if (closed_) return closed_status();
  const auto s = next_match(from.value, filter);
  if (!s) return not_found("no message matching the filter");
  return load_at(*s);
}

std::uint64_t indexed_store::next_seq(stream_seq from, std::string_view filter) const {
  if (closed_) return 0;
  return next_match(from.value, filter).value_or(0);
}

result<stored_message> indexed_store::load_last(std::string_view filter) const {
  if (closed_) return closed_status();
  const auto s = last_match(filter);
  if (!s) return not_found("no message matching the filter");
  return load_at(*s);
}

std::uint64_t indexed_store::last_seq_of(std::string_view subject) const {
  if (closed_) return 0;
  const auto k = subject_id(subject);
  return k ? subjects_[*k].seqs.back() : 0;
}

std::uint64_t indexed_store::num_pending(stream_seq from, std::string_view filter) const {
  const std::uint64_t start = std::max(from.value, base_);
  if (closed_ || msgs_ == 0 || start > last_) return 0;
  if (filter.empty()) {
    if (start == base_) return msgs_;
    // Count whichever side of `start` is shorter.
    if (start - base_ < last_ - start) return msgs_ - count_live(base_, start);
    return count_live(start, last_ + 1);
  }
  if (!has_wildcards(filter)) {
    const auto k = subject_id(filter);
    return k ? subject_pending(subjects_[*k], *k, start) : 0;
  }
  matcher m(*this, filter);
  std::uint64_t n = 0;
  if (subjects_.size() < last_ - start + 1) {
    for (std::uint32_t k = 0; k < subjects_.size(); ++k) {
      const subject_state& ss = subjects_[k];
      if (ss.live > 0 && ss.seqs.back() >= start && m(k)) n += subject_pending(ss, k, start);
    }
    return n;
  }
  for (std::uint64_t s = start; s <= last_; ++s) {
    const entry& e = entries_[s - base_];
    if (e.subject != dead && m(e.subject)) ++n;
  }
  return n;
}

std::map<std::string, std::uint64_t> indexed_store::subjects(std::string_view filter) const {
  std::map<std::string, std::uint64_t> out;
  if (closed_) return out;
  if (!filter.empty() && !has_wildcards(filter)) {
    if (const auto k = subject_id(filter)) out.emplace(subjects_[*k].name, subjects_[*k].live);
    return out;
  }
  matcher m(*this, filter);
  for (std::uint32_t k = 0; k < subjects_.size(); ++k) {
    if (subjects_[k].live > 0 && m(k)) out.emplace(subjects_[k].name, subjects_[k].live);
  }
  return out;
}

std::vector<std::uint64_t> indexed_store::deleted() const {
  std::vector<std::uint64_t> out;
  if (closed_) return out;
  for (std::uint64_t s = base_; s <= last_ && !entries_.empty(); ++s) {
    if (entries_[s - base_].subject == dead) out.push_back(s);
  }
  return out;
}

store_state indexed_store::state() const {
  store_state st;
  if (closed_) return st;
  st.msgs = msgs_;
  st.bytes = bytes_;
  st.first_seq = stream_seq{floor_seq()};
  st.first_ts_ns = msgs_ > 0 ? entries_.front().ts_ns : 0;
  st.last_seq = stream_seq{last_};
  st.last_ts_ns = last_ts_;
  st.num_subjects = subject_ids_.size();
  st.num_deleted = msgs_ > 0 ? (last_ - base_ + 1) - msgs_ : 0;
  st.lost = lost();
  return st;
}

// ---- Changes ----

std::uint32_t indexed_store::add_subject(std::string_view subject) {
  if (const auto k = subject_id(subject)) return *k;
  std::uint32_t k;
  if (!free_ids_.empty()) {
    k = free_ids_.back();
    free_ids_.pop_back();
  } else {
    FERRY_CHECK(subjects_.size() < dead);
    k = static_cast<std::uint32_t>(subjects_.size());
    subjects_.emplace_back();
  }
  subjects_[k].name.assign(subject);
  subject_ids_.emplace(subjects_[k].name, k);
  return k;
}

void indexed_store::push_entry(std::uint64_t seq, const entry& e, std::string_view subject) {
  FERRY_CHECK(seq > last_);
  if (entries_.empty()) {
    base_ = seq;
  } else {
    entries_.resize(entries_.size() + (seq - last_ - 1));  // dead entries for the gap
  }
  const std::uint32_t k = add_subject(subject);
  entries_.push_back(e);
  entries_.back().subject = k;
  subject_state& ss = subjects_[k];
  ss.seqs.push_back(seq);
  ++ss.live;
  ++msgs_;
  bytes_ += e.size;
  last_ = seq;
  last_ts_ = e.ts_ns;
}

void indexed_store::remove_seq(std::uint64_t seq, bool erase) {
  entry& e = entries_[seq - base_];
  FERRY_CHECK(e.subject != dead);
  on_remove(seq, e, erase);
  const std::uint32_t k = e.subject;
  e.subject = dead;
  --msgs_;
  bytes_ -= e.size;
  subject_removed(k, seq);
  while (!entries_.empty() && entries_.front().subject == dead) {
    entries_.pop_front();
    ++base_;
  }
}

void indexed_store::subject_removed(std::uint32_t k, std::uint64_t seq) {
  subject_state& ss = subjects_[k];
  if (--ss.live == 0) {
    subject_ids_.erase(ss.name);
    ss = subject_state{};
    free_ids_.push_back(k);
    return;
  }
  if (ss.seqs[ss.head] == seq) {
    while (!live_in(ss.seqs[ss.head], k)) ++ss.head;
  }
  if (ss.seqs.back() == seq) {
    while (!live_in(ss.seqs.back(), k)) ss.seqs.pop_back();
  }
  if (ss.seqs.size() > 2 * ss.live + 32) {  // mostly dead: keep only the live ones
    std::vector<std::uint64_t> kept;
    kept.reserve(ss.live);
    for (std::size_t i = ss.head; i < ss.seqs.size(); ++i) {
      if (live_in(ss.seqs[i], k)) kept.push_back(ss.seqs[i]);
    }
    ss.seqs = std::move(kept);
    ss.head = 0;
  }
}

void indexed_store::enforce_subject_limit(std::uint32_t k) {
  if (lim_.max_msgs_per_subject <= 0) return;
  const auto max = static_cast<std::uint64_t>(lim_.max_msgs_per_subject);
  while (subjects_[k].live > max) remove_seq(subjects_[k].seqs[subjects_[k].head], false);
}

void indexed_store::enforce_stream_limits() {
  if (lim_.max_msgs > 0) {
    while (msgs_ > static_cast<std::uint64_t>(lim_.max_msgs)) remove_seq(base_, false);
  }
  if (lim_.max_bytes > 0) {
    while (bytes_ > static_cast<std::uint64_t>(lim_.max_bytes)) remove_seq(base_, false);
  }
}

std::uint64_t indexed_store::expire_before(std::int64_t cutoff) {
  std::uint64_t n = 0;
  while (msgs_ > 0 && entries_.front().ts_ns <= cutoff) {
    remove_seq(base_, false);
    ++n;
  }
  return n;
}

result<stream_seq> indexed_store::append(std::string_view subject, std::string_view headers, std::string_view data,
                                         std::int64_t ts_ns) {
  if (closed_) return closed_status();
  if (subject.empty()) return invalid_argument("empty subject");
  if (subject.size() > 0xFFFF) return invalid_argument("subject longer than 65535 bytes");
  if (lim_.max_msg_size >= 0 && headers.size() + data.size() > static_cast<std::uint64_t>(lim_.max_msg_size)) {
    return invalid_argument("message size exceeds maximum allowed");
  }
  const std::uint64_t size = size_of(subject, headers, data);
  if (size >= dead) return invalid_argument("message too large");
  const auto k = subject_id(subject);
  const bool subject_full =
      lim_.max_msgs_per_subject > 0 && k && subjects_[*k].live >= static_cast<std::uint64_t>(lim_.max_msgs_per_subject);
  if (lim_.discard == discard_policy::new_) {
    // nats-server's checks: a full subject under discard new per subject refuses; otherwise a
    // message that will replace its subject's oldest is let through the stream limits.
    if (subject_full && lim_.discard_new_per_subject) {
      return resource_exhausted("maximum messages per subject exceeded");
    }
    if (lim_.max_msgs > 0 && msgs_ >= static_cast<std::uint64_t>(lim_.max_msgs) && !subject_full) {
      return resource_exhausted("maximum messages exceeded");
    }
    // As nats-server: refused when the total would reach the limit, not only exceed it.
    if (lim_.max_bytes > 0 && bytes_ + size >= static_cast<std::uint64_t>(lim_.max_bytes)) {
      if (!subject_full) return resource_exhausted("maximum bytes exceeded");
      const subject_state& ss = subjects_[*k];
      const entry* oldest = find(ss.seqs[ss.head]);
      if (oldest == nullptr || oldest->size < size) return resource_exhausted("maximum bytes exceeded");
    }
  }
  const std::uint64_t seq = last_ + 1;
  FERRY_ASSIGN_OR_RETURN(const std::uint64_t payload, put_body(seq, subject, headers, data, ts_ns));
  push_entry(seq, entry{ts_ns, 0, static_cast<std::uint32_t>(size), payload}, subject);
  enforce_subject_limit(entries_.back().subject);
  enforce_stream_limits();
  if (lim_.max_age_ns > 0 && ts_ns > std::numeric_limits<std::int64_t>::min() + lim_.max_age_ns) {
    expire_before(ts_ns - lim_.max_age_ns);
  }
  (void)after_change(change::append);  // the implementation keeps a write error for flush_then
  return stream_seq{seq};
}

status indexed_store::remove(stream_seq seq, bool erase) {
  if (closed_) return closed_status();
  if (find(seq.value) == nullptr) return not_found("no message " + std::to_string(seq.value));
  remove_seq(seq.value, erase);
  return after_change(change::remove);
}

std::uint64_t indexed_store::remove_below_floor(std::uint64_t floor) {
  std::uint64_t n = 0;
  while (msgs_ > 0 && base_ < floor) {
    remove_seq(base_, false);
    ++n;
  }
  if (floor > last_ + 1) {  // entries_ is empty: move the whole stream up
    last_ = floor - 1;
    base_ = floor;
  }
  return n;
}

std::uint64_t indexed_store::purge_matching(const purge_request& req) {
  std::uint64_t cutoff = req.up_to ? req.up_to->value : no_seq;
  const bool literal = !req.filter.empty() && !has_wildcards(req.filter);
  const auto k = literal ? subject_id(req.filter) : std::nullopt;
  if (literal && !k) return 0;
  matcher m(*this, req.filter);
  if (req.keep && *req.keep > 0) {
    // Everything that matches below the keep-th newest match goes.
    std::uint64_t seen = 0;
    std::uint64_t kth = 0;
    if (literal) {
      const subject_state& ss = subjects_[*k];
      for (std::size_t i = ss.seqs.size(); i-- > ss.head;) {
        if (live_in(ss.seqs[i], *k) && ++seen == *req.keep) {
          kth = ss.seqs[i];
          break;
        }
      }
    } else {
      for (std::uint64_t s = last_; s >= base_ && msgs_ > 0; --s) {
        const entry& e = entries_[s - base_];
        if (e.subject != dead && m(e.subject) && ++seen == *req.keep) {
          kth = s;
          break;
        }
      }
    }
    if (kth == 0) return 0;  // no more than `keep` match
    cutoff = std::min(cutoff, kth);
  }
  if (req.filter.empty()) return remove_below_floor(std::min(cutoff, last_ + 1));
  std::uint64_t n = 0;
  if (literal) {
    const subject_state& ss = subjects_[*k];
    std::vector<std::uint64_t> doomed;
    for (std::size_t i = ss.head; i < ss.seqs.size() && ss.seqs[i] < cutoff; ++i) {
      if (live_in(ss.seqs[i], *k)) doomed.push_back(ss.seqs[i]);
    }
    for (const std::uint64_t s : doomed) remove_seq(s, false);
    return doomed.size();
  }
  const std::uint64_t end = std::min(cutoff, last_ + 1);
  for (std::uint64_t s = base_; s < end && msgs_ > 0; ++s) {
    if (s < base_) s = base_;  // removing the front moved the window
    if (s >= end) break;
    const entry& e = entries_[s - base_];
    if (e.subject != dead && m(e.subject)) {
      remove_seq(s, false);
      ++n;
    }
  }
  return n;
}

result<std::uint64_t> indexed_store::purge(const purge_request& req) {
  if (closed_) return closed_status();
  std::uint64_t n;
  if (req.filter.empty() && !(req.keep && *req.keep > 0)) {
    // Everything below up_to (all without one). An up_to past the end moves the last sequence
    // up, as nats-server's compact does, so the next message gets sequence up_to.
    n = remove_below_floor(req.up_to ? req.up_to->value : last_ + 1);
  } else {
    n = purge_matching(req);
  }
  purge_flush_follows_ = req.flush_follows;
  status s = after_change(change::purge);
  purge_flush_follows_ = false;
  FERRY_RETURN_IF_ERROR(s);
  return n;
}

std::uint64_t indexed_store::expire(std::int64_t now_ns) {
  if (closed_ || lim_.max_age_ns <= 0) return 0;
  if (now_ns <= std::numeric_limits<std::int64_t>::min() + lim_.max_age_ns) return 0;
  const std::uint64_t n = expire_before(now_ns - lim_.max_age_ns);
  if (n > 0) (void)after_change(change::remove);
  return n;
}

status indexed_store::update_limits(const limits& l) {
  if (closed_) return closed_status();
  lim_ = l;
  for (std::uint32_t k = 0; k < subjects_.size(); ++k) {
    if (subjects_[k].live > 0) enforce_subject_limit(k);
  }
  enforce_stream_limits();
  return after_change(change::remove);
}

// ---- Recovery ----

void indexed_store::restore_message(std::uint64_t seq, std::string_view subject, std::int64_t ts_ns, std::uint32_t size,
                                    std::uint64_t payload) {
  push_entry(seq, entry{ts_ns, 0, size, payload}, subject);
}

bool indexed_store::restore_remove(std::uint64_t seq) {
  if (find(seq) == nullptr) return false;
  remove_seq(seq, false);
  return true;
}

status indexed_store::skip_to(stream_seq last) {
  if (closed_) return closed_status();
  if (last.value <= last_) return status::ok();
  restore_last(last.value, std::nullopt);
  return persist_last(last.value);
}

void indexed_store::restore_last(std::uint64_t seq, std::optional<std::int64_t> ts_ns) {
  if (seq <= last_) return;
  if (entries_.empty()) {
    base_ = seq + 1;
  } else {
    entries_.resize(entries_.size() + (seq - last_));
  }
  last_ = seq;
  if (ts_ns) last_ts_ = *ts_ns;
}

void indexed_store::discard_after(std::uint64_t seq, std::int64_t ts_ns) {
  FERRY_CHECK(seq <= last_);
  for (std::uint64_t s = last_; s > seq && s >= base_ && !entries_.empty(); --s) {
    entry& e = entries_[s - base_];
    if (e.subject == dead) continue;
    const std::uint32_t k = e.subject;
    e.subject = dead;
    --msgs_;
    bytes_ -= e.size;
    subject_removed(k, s);
  }
  if (seq >= base_ && !entries_.empty()) {
    entries_.resize(std::min<std::uint64_t>(entries_.size(), seq - base_ + 1));
  } else {
    entries_.clear();
  }
  while (!entries_.empty() && entries_.front().subject == dead) {
    entries_.pop_front();
    ++base_;
  }
  if (entries_.empty()) base_ = seq + 1;
  last_ = seq;
  last_ts_ = ts_ns;
}

void indexed_store::clear_index() {
  entries_.clear();
  subjects_.clear();
  subject_ids_.clear();
  free_ids_.clear();
  msgs_ = 0;
  bytes_ = 0;
  base_ = last_ + 1;
}

}  // namespace ferry::store
