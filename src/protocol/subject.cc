#include "protocol/subject.h"

#include "base/subject_match.h"

namespace ferry::protocol {

namespace {
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
}  // namespace

bool is_valid_subject(std::string_view s) {
  if (s.empty()) return false;
  bool saw_fwc = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] != '.') {
      if (is_blank(s[i])) return false;
      continue;
    }
    std::size_t len = i - start;
    if (len == 0 || saw_fwc) return false;
    if (len == 1 && s[start] == '>') saw_fwc = true;
    start = i + 1;
  }
  return true;
}

bool is_valid_literal_subject(std::string_view s) {
  if (!is_valid_subject(s)) return false;
  return !has_wildcard(s);
}

bool has_wildcard(std::string_view s) {
  for (tokenizer t(s); !t.done(); t.next()) {
    std::string_view tok = t.token();
    if (tok.size() == 1 && (tok[0] == '*' || tok[0] == '>')) return true;
  }
  return false;
}

bool subject_matches(std::string_view pattern, std::string_view subject) {
  return ferry::subject_matches(pattern, subject);
}

bool subject_is_subset(std::string_view sub, std::string_view pattern) {
  tokenizer s(sub);
  tokenizer p(pattern);
  for (; !p.done(); p.next(), s.next()) {
    std::string_view pt = p.token();
    if (pt.size() == 1 && pt[0] == '>') return !s.done();
    if (s.done()) return false;
    std::string_view st = s.token();
    bool st_wild = st.size() == 1 && (st[0] == '*' || st[0] == '>');
    if (pt.size() == 1 && pt[0] == '*') {
      if (st.size() == 1 && st[0] == '>') return false;  // '>' covers more than one token
      continue;
    }
    if (st_wild || pt != st) return false;
  }
  return s.done();
}

bool subjects_overlap(std::string_view a, std::string_view b) {
  tokenizer x(a);
  tokenizer y(b);
  for (; !x.done() && !y.done(); x.next(), y.next()) {
    std::string_view xt = x.token();
    std::string_view yt = y.token();
    if ((xt.size() == 1 && xt[0] == '>') || (yt.size() == 1 && yt[0] == '>')) return true;
    if ((xt.size() == 1 && xt[0] == '*') || (yt.size() == 1 && yt[0] == '*')) continue;
    if (xt != yt) return false;
  }
  return x.done() && y.done();
}

std::size_t count_tokens(std::string_view s) {
  if (s.empty()) return 0;
  std::size_t n = 1;
  for (char c : s) n += c == '.';
  return n;
}

}  // namespace ferry::protocol
