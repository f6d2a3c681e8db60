// Subject syntax and matching, as nats-server defines them (sublist.go).
//
// A subject is tokens separated by '.'; every token is non-empty and free of whitespace.
// `*` (one token) and `>` (one or more trailing tokens) are wildcards only as whole tokens, and
// `>` must be last. A literal subject has no wildcard tokens. All functions are pure.
#pragma once

#include <cstddef>
#include <string_view>

namespace ferry::protocol {

// True if `s` may be subscribed to (wildcards allowed).
bool is_valid_subject(std::string_view s);
// True if `s` is valid and has no wildcard token (what a pedantic publisher must send).
bool is_valid_literal_subject(std::string_view s);
// True if `s` has a `*` or `>` token. REQUIRES: is_valid_subject(s)
bool has_wildcard(std::string_view s);
// True if literal `subject` is matched by `pattern` (which may hold wildcards).
bool subject_matches(std::string_view pattern, std::string_view subject);
// True if every subject matched by `sub` is also matched by `pattern` (nats-server's
// isSubsetMatch): `foo.*` is a subset of `foo.>` and of `*.*`, but not of `foo.bar`.
bool subject_is_subset(std::string_view sub, std::string_view pattern);
// True if some subject is matched by both `a` and `b` (both may hold wildcards).
bool subjects_overlap(std::string_view a, std::string_view b);
// Number of tokens in `s` (1 for "foo", 0 for "").
std::size_t count_tokens(std::string_view s);

// Splits a subject into tokens without allocating: `for (tokenizer t(s); !t.done(); t.next())`.
class tokenizer {
 public:
  explicit tokenizer(std::string_view s) : rest_(s) { advance(); }
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] std::string_view token() const { return tok_; }
  void next() { advance(); }

 private:
  void advance() {
    if (finished_) {
      done_ = true;
      return;
    }
    std::size_t dot = rest_.find('.');
    if (dot == std::string_view::npos) {
      tok_ = rest_;
      finished_ = true;
    } else {
      tok_ = rest_.substr(0, dot);
      rest_.remove_prefix(dot + 1);
    }
  }
  std::string_view rest_;
  std::string_view tok_;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace ferry::protocol
