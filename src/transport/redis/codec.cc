#include "transport/redis/codec.h"

#include <algorithm>
#include <charconv>

namespace ferry::redis::detail {
namespace {

bool reserved(std::string_view name) { return name == field::payload || name.starts_with("ferry-"); }

// "ms-seq" packed into 64 bits: ms << 16 | seq (seq capped at 65535: more than 65 million entries a
// second would share a number, never reorder).
std::uint64_t pack(std::string_view id, std::uint64_t* ms_out) {
  const entry_key k = entry_key::parse(id);
  *ms_out = k.ms;
  return (k.ms << 16) | std::min<std::uint64_t>(k.seq, 0xffff);
}

}  // namespace

status check_headers(const message& m) {
  for (const auto& [name, value] : m.headers) {
    if (reserved(name)) {
      return invalid_argument("header \"" + name + "\": payload and ferry-* are field names of the Redis transport");
    }
  }
  return status::ok();
}

void add_fields(const message& m, std::string_view reply_token, args& a) {
  a.add(field::payload).add(m.payload);
  a.add(field::id).add(m.id);
  if (!m.key.empty()) a.add(field::key).add(m.key);
  if (!m.reply.empty()) a.add(field::reply_to).add(m.reply);
  if (!reply_token.empty()) a.add(field::reply_token).add(reply_token);
  for (const auto& [name, value] : m.headers) a.add(name).add(value);
}

entry_key entry_key::parse(std::string_view id) {
  entry_key k;
  const std::size_t dash = id.find('-');
  std::from_chars(id.data(), id.data() + std::min(dash, id.size()), k.ms);
  if (dash != std::string_view::npos) std::from_chars(id.data() + dash + 1, id.data() + id.size(), k.seq);
  return k;
}

void entry_key::append_to(std::string& out) const {
  char buf[48];
  char* p = std::to_chars(buf, buf + 20, ms).ptr;
  *p++ = '-';
  p = std::to_chars(p, p + 20, seq).ptr;
  out.append(buf, static_cast<std::size_t>(p - buf));
}

std::string entry_key::str() const {
  std::string s;
  append_to(s);
  return s;
}

std::string_view entry_id(const redisReply* entry) {
  return entry != nullptr && entry->type == REDIS_REPLY_ARRAY && entry->elements >= 1 ? text(entry->element[0])
                                                                                      : std::string_view();
}

std::string from_entry(const redisReply* entry, std::string_view stream, message& m) {
  std::string token;
  m.subject = stream;
  const std::string_view id = entry_id(entry);
  if (entry != nullptr && entry->type == REDIS_REPLY_ARRAY && entry->elements >= 2 &&
      entry->element[1]->type == REDIS_REPLY_ARRAY) {
    const redisReply* f = entry->element[1];
    for (std::size_t i = 0; i + 1 < f->elements; i += 2) {
      const std::string_view name = text(f->element[i]), value = text(f->element[i + 1]);
      if (name == field::payload) {
        m.payload = value;
      } else if (name == field::id) {
        m.id = value;
      } else if (name == field::key) {
        m.key = value;
      } else if (name == field::reply_to) {
        m.reply = value;
      } else if (name == field::reply_token) {
        token = value;
      } else {
        m.headers.add(std::string(name), std::string(value));
      }
    }
  }
  if (m.id.empty()) m.id = std::string(stream) + "/" + std::string(id);
  std::uint64_t ms = 0;
  m.delivery.stream_sequence = pack(id, &ms);
  m.delivery.published = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  m.delivery.transport = "redis";
  return token;
}

}  // namespace ferry::redis::detail
