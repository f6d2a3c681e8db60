#include "protocol/parser.h"

namespace ferry::protocol {

namespace {
constexpr std::size_t min_read = 512;
constexpr std::size_t max_read = 256 * 1024;
}  // namespace

std::int64_t parse_size(std::string_view s) {
  if (s.empty() || s.size() > 9) return -1;
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::span<char> parser::prepare() {
  std::size_t want = read_size_;
  if (need_ > buf_.size() && need_ - buf_.size() > want) want = need_ - buf_.size();
  if (buf_.empty() && buf_.capacity() > 4 * max_read && want <= max_read) buf_.shrink_to(max_read);
  char* p = buf_.prepare(want);
  last_prepared_ = buf_.writable();
  return {p, last_prepared_};
}

void parser::commit(std::size_t n) {
  buf_.commit(n);
  // Adapt the read size as nats-server does: grow after a full read, shrink after short ones,
  // so that idle connections hold little memory and busy ones read in large chunks.
  if (n >= read_size_ && read_size_ < max_read) {
    read_size_ *= 2;
    short_reads_ = 0;
  } else if (n < read_size_ / 2 && read_size_ > min_read) {
    if (++short_reads_ > 2) {
      read_size_ /= 2;
      short_reads_ = 0;
    }
  } else {
    short_reads_ = 0;
  }
}

}  // namespace ferry::protocol
