#include "protocol/ack_subject.h"

#include <array>

#include "base/number.h"
#include "protocol/subject.h"

namespace ferry::protocol {

std::optional<ack_subject> parse_ack_subject(std::string_view s) {
  std::array<std::string_view, 12> t;
  std::size_t n = 0;
  for (tokenizer k(s); !k.done(); k.next()) {
    if (n == t.size()) return std::nullopt;
    t[n++] = k.token();
  }
  if ((n != 9 && n < 11) || t[0] != "$JS" || t[1] != "ACK") return std::nullopt;
  const std::size_t i = n == 9 ? 2 : 4;
  std::array<std::uint64_t, 5> v{};
  for (std::size_t k = 0; k < v.size(); ++k) {
    auto r = parse_uint(t[i + 2 + k], "ack subject token");
    if (!r.is_ok()) return std::nullopt;
    v[k] = *r;
  }
  if (t[i].empty() || t[i + 1].empty()) return std::nullopt;
  return ack_subject{t[i], t[i + 1], v[0], v[1], v[2], static_cast<std::int64_t>(v[3]), v[4]};
}

}  // namespace ferry::protocol
