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
  // Room for a read of read_size_ bytes in all, counting the partial frame already held, so
  // that the buffer's capacity stays at the read size instead of doubling past it.
  const std::size_t held = buf_.size();
  std::size_t want = read_size_ > held + min_read ? read_size_ - held : min_read;
  if (need_ > held && need_ - held > want) want = need_ - held;
  // Give memory back once the stream calms down (the read size shrinks after short reads).
  if (held == 0 && buf_.capacity() > 2 * read_size_ && buf_.capacity() > 64 * 1024 && want <= read_size_) {
    buf_.shrink_to(read_size_);
  }
  char* p = buf_.prepare(want);
  last_prepared_ = buf_.writable();
  return {p, last_prepared_};
}

void parser::commit(std::size_t n) {
  buf_.commit(n);
  // Adapt the read size as nats-server does: grow after a full read, shrink after short ones,
  // so that idle connections hold little memory and busy ones read in large chunks.
  // A read that filled all the room offered means more is waiting.
  if (n >= last_prepared_ && read_size_ < max_read) {
    read_size_ *= 2;
    short_reads_ = 0;
  } else if (n < read_size_ / 4 && read_size_ > min_read) {
    if (++short_reads_ > 2) {
      read_size_ /= 2;
      short_reads_ = 0;
    }
  } else {
    short_reads_ = 0;
  }
}

}  // namespace ferry::protocol
