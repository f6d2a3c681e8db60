// Subject matching shared by the protocol and store modules (which may not include each
// other): does literal `subject` match `pattern`, where `*` matches one token and a final `>`
// one or more. Pure and allocation-free.
#pragma once

#include <string_view>

namespace ferry {

inline bool subject_matches(std::string_view pattern, std::string_view subject) {
  constexpr auto npos = std::string_view::npos;
  std::size_t p = 0;
  std::size_t s = 0;
  bool s_done = subject.empty();
  for (;;) {
    const std::size_t pe = pattern.find('.', p);
    const std::string_view pt = pattern.substr(p, pe == npos ? npos : pe - p);
    if (pt == ">" && pe == npos) return !s_done;
    if (s_done) return false;
    const std::size_t se = subject.find('.', s);
    const std::string_view st = subject.substr(s, se == npos ? npos : se - s);
    if (pt != "*" && pt != st) return false;
    if (pe == npos) return se == npos;
    if (se == npos) {
      s_done = true;
    } else {
      s = se + 1;
    }
    p = pe + 1;
  }
}

}  // namespace ferry
