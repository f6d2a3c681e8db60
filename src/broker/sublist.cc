#include "broker/sublist.h"

#include <mutex>

#include "protocol/subject.h"

namespace ferry::broker {

namespace {

bool is_pwc(std::string_view t) { return t.size() == 1 && t[0] == '*'; }
bool is_fwc(std::string_view t) { return t.size() == 1 && t[0] == '>'; }

// Splits a literal subject; false if a token is empty (such a subject matches nothing).
bool split_literal(std::string_view subject, std::vector<std::string_view>& out) {
  out.clear();
  if (subject.empty()) return false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= subject.size(); ++i) {
    if (i == subject.size() || subject[i] == '.') {
      if (i == start) return false;
      out.push_back(subject.substr(start, i - start));
      start = i + 1;
    }
  }
  return true;
}

void add_group(std::vector<match_result::group>& groups, const match_result::group& g) {
  for (auto& existing : groups) {
    if (existing.name == g.name) {
      existing.members.insert(existing.members.end(), g.members.begin(), g.members.end());
      return;
    }
  }
  groups.push_back(g);
}

}  // namespace

bool sublist::node::empty() const { return plain.empty() && queues.empty() && (!next || next->empty()); }

sublist::sublist() : root_(std::make_unique<level>()) {}
sublist::~sublist() = default;

status sublist::insert(const subscription_ptr& s) {
  if (!protocol::is_valid_subject(s->subject)) return invalid_argument("invalid subject");
  std::unique_lock lock(mu_);
  level* l = root_.get();
  node* n = nullptr;
  for (protocol::tokenizer t(s->subject); !t.done(); t.next()) {
    std::string_view tok = t.token();
    std::unique_ptr<node>* slot;
    if (is_pwc(tok)) {
      slot = &l->pwc;
    } else if (is_fwc(tok)) {
      slot = &l->fwc;
    } else {
      auto it = l->literal.find(tok);
      if (it == l->literal.end()) it = l->literal.emplace(std::string(tok), nullptr).first;
      slot = &it->second;
    }
    if (!*slot) *slot = std::make_unique<node>();
    n = slot->get();
    if (!n->next) n->next = std::make_unique<level>();
    l = n->next.get();
  }
  if (s->queue.empty()) {
    n->plain.push_back(s);
  } else {
    auto it = std::find_if(n->queues.begin(), n->queues.end(), [&](const auto& g) { return g.name == s->queue; });
    if (it == n->queues.end()) {
      n->queues.push_back({s->queue, {s}});
    } else {
      it->members.push_back(s);
    }
  }
  ++count_;
  inserts_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return status::ok();
}

bool sublist::remove(const subscription_ptr& s) {
  std::unique_lock lock(mu_);
  // Walk down remembering the path so that empty nodes can be pruned on the way back.
  struct step {
    level* l;
    std::string_view tok;
  };
  std::vector<step> path;
  level* l = root_.get();
  node* n = nullptr;
  for (protocol::tokenizer t(s->subject); !t.done(); t.next()) {
    std::string_view tok = t.token();
    path.push_back({l, tok});
    if (is_pwc(tok)) {
      n = l->pwc.get();
    } else if (is_fwc(tok)) {
      n = l->fwc.get();
    } else {
      auto it = l->literal.find(tok);
      n = it == l->literal.end() ? nullptr : it->second.get();
    }
    if (n == nullptr) return false;
    l = n->next.get();
  }
  if (n == nullptr) return false;
  bool found = false;
  if (s->queue.empty()) {
    auto it = std::find(n->plain.begin(), n->plain.end(), s);
    if (it != n->plain.end()) {
      n->plain.erase(it);
      found = true;
    }
  } else {
    for (auto g = n->queues.begin(); g != n->queues.end(); ++g) {
      if (g->name != s->queue) continue;
      auto it = std::find(g->members.begin(), g->members.end(), s);
      if (it != g->members.end()) {
        g->members.erase(it);
        found = true;
        if (g->members.empty()) n->queues.erase(g);
      }
      break;
    }
  }
  if (!found) return false;
  // Prune nodes left empty, deepest first.
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    level* pl = it->l;
    std::unique_ptr<node>* slot;
    if (is_pwc(it->tok)) {
      slot = &pl->pwc;
    } else if (is_fwc(it->tok)) {
      slot = &pl->fwc;
    } else {
      auto li = pl->literal.find(it->tok);
      slot = &li->second;
    }
    if (!(*slot)->empty()) break;
    if (is_pwc(it->tok) || is_fwc(it->tok)) {
      slot->reset();
    } else {
      pl->literal.erase(pl->literal.find(it->tok));
    }
  }
  --count_;
  removes_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void sublist::add_node(const node* n, match_result& out) {
  out.plain.insert(out.plain.end(), n->plain.begin(), n->plain.end());
  for (const auto& g : n->queues) add_group(out.queues, g);
}

void sublist::collect(const level* l, const std::vector<std::string_view>& toks, std::size_t i,
                      match_result& out) const {
  if (l == nullptr) return;
  // '>' at this level matches the rest, which is at least one token since i < size.
  if (l->fwc) add_node(l->fwc.get(), out);
  const bool last = i + 1 == toks.size();
  // The order of results follows nats-server's matchLevel: at each level '>' first, then '*'
  // descending, then the literal; at the last level the literal before '*'.
  if (l->pwc && !last) collect(l->pwc->next.get(), toks, i + 1, out);
  auto it = l->literal.find(toks[i]);
  if (it != l->literal.end()) {
    if (last) {
      add_node(it->second.get(), out);
    } else {
      collect(it->second->next.get(), toks, i + 1, out);
    }
  }
  if (l->pwc && last) add_node(l->pwc.get(), out);
}

match_ptr sublist::match(std::string_view subject) const {
  auto out = std::make_shared<match_result>();
  match_into(subject, *out);
  return out;
}

void sublist::match_into(std::string_view subject, match_result& out) const {
  matches_.fetch_add(1, std::memory_order_relaxed);
  out.plain.clear();
  out.queues.clear();
  thread_local std::vector<std::string_view> toks;
  if (!split_literal(subject, toks)) return;
  {
    std::shared_lock lock(mu_);
    collect(root_.get(), toks, 0, out);
  }
  const std::uint64_t fanout = out.plain.size() + out.queues.size();
  fanout_sum_.fetch_add(fanout, std::memory_order_relaxed);
  std::uint64_t m = fanout_max_.load(std::memory_order_relaxed);
  while (fanout > m && !fanout_max_.compare_exchange_weak(m, fanout, std::memory_order_relaxed)) {
  }
}

sublist_stats sublist::stats() const {
  sublist_stats s;
  {
    std::shared_lock lock(mu_);
    s.subscriptions = count_;
  }
  s.inserts = inserts_.load(std::memory_order_relaxed);
  s.removes = removes_.load(std::memory_order_relaxed);
  s.matches = matches_.load(std::memory_order_relaxed);
  s.max_fanout = fanout_max_.load(std::memory_order_relaxed);
  s.avg_fanout = s.matches ? static_cast<double>(fanout_sum_.load(std::memory_order_relaxed)) / static_cast<double>(s.matches) : 0;
  return s;
}

const match_result& match_cache::match(std::string_view subject) {
  const std::uint64_t g = sl_.generation();
  if (g == last_gen_ && subject == last_subject_) {
    hits_.store(hits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return *last_;
  }
  if (one_off(subject)) {
    misses_.store(misses_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sl_.match_into(subject, one_off_);
    return one_off_;
  }
  if (g != gen_) {
    map_.clear();
    gen_ = g;
  }
  auto it = map_.find(subject);
  if (it != map_.end()) {
    hits_.store(hits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    last_ = it->second.get();
    last_subject_.assign(subject);
    last_gen_ = g;
    return *last_;
  }
  misses_.store(misses_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Read the generation before matching: a change racing with the match bumps it again, and
  // the next call then discards this entry.
  match_ptr r = sl_.match(subject);
  if (map_.size() >= max_) map_.clear();
  last_ = r.get();
  last_subject_.assign(subject);
  last_gen_ = g;
  map_.emplace(std::string(subject), std::move(r));
  size_.store(map_.size(), std::memory_order_relaxed);
  return *last_;
}

}  // namespace ferry::broker
