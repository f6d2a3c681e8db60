#include "transport/kafka/codec.h"

#include <charconv>

namespace ferry::kafka::detail {
namespace {

void add(rd_kafka_headers_t* h, std::string_view name, std::string_view value) {
  rd_kafka_header_add(h, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                      static_cast<ssize_t>(value.size()));
}

template <class Int>
std::optional<Int> parse_int(std::string_view s) {
  Int v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

destination::destination(const std::string& subject) : subject_(subject) {
  const std::size_t hash = subject.find('#');
  if (hash == std::string::npos) return;
  copy_ = subject.substr(0, hash);
  token_ = std::string_view(subject).substr(hash + 1);
}

headers_ptr to_headers(const message& m, std::string_view id, std::string_view reply_token) {
  headers_ptr h(rd_kafka_headers_new(m.headers.size() + 1 + (m.reply.empty() ? 0 : 1) + (reply_token.empty() ? 0 : 1)));
  for (const auto& [name, value] : m.headers) add(h.get(), name, value);
  add(h.get(), wire::id, id);
  if (!m.reply.empty()) add(h.get(), wire::reply_to, m.reply);
  if (!reply_token.empty()) add(h.get(), wire::reply_token, reply_token);
  return h;
}

bookkeeping from_kafka(const rd_kafka_message_t* km, std::string_view subject, message& m) {
  bookkeeping out;
  m.subject = subject;
  if (km->key != nullptr) m.key.assign(static_cast<const char*>(km->key), km->key_len);
  if (km->payload != nullptr) m.payload.assign(static_cast<const char*>(km->payload), km->len);
  rd_kafka_headers_t* h = nullptr;
  if (rd_kafka_message_headers(km, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      const std::string_view n(name);
      const std::string_view v(value == nullptr ? "" : static_cast<const char*>(value), value == nullptr ? 0 : size);
      if (n == wire::id) {
        m.id = v;
      } else if (n == wire::reply_to) {
        m.reply = v;
      } else if (n == wire::reply_token) {
        out.reply_token = v;
      } else if (n == wire::delivery_count) {
        out.delivery_count = parse_int<std::uint32_t>(v);
      } else if (n == wire::not_before) {
        if (auto ms = parse_int<std::int64_t>(v)) {
          out.not_before = std::chrono::system_clock::time_point(std::chrono::milliseconds(*ms));
        }
      } else {
        m.headers.add(std::string(n), std::string(v));
      }
    }
  }
  if (m.id.empty()) {
    m.id = std::string(rd_kafka_topic_name(km->rkt)) + "/" + std::to_string(km->partition) + "/" +
           std::to_string(km->offset);
  }
  m.delivery.partition = km->partition;
  m.delivery.stream_sequence = static_cast<std::uint64_t>(km->offset) + 1;
  rd_kafka_timestamp_type_t type;
  const std::int64_t ts = rd_kafka_message_timestamp(km, &type);
  if (ts >= 0) m.delivery.published = std::chrono::system_clock::time_point(std::chrono::milliseconds(ts));
  m.delivery.transport = "kafka";
  return out;
}

headers_ptr retry_headers(const rd_kafka_headers_t* src, std::string_view id, std::uint32_t delivery_count,
                          std::chrono::system_clock::time_point not_before) {
  headers_ptr h(src != nullptr ? rd_kafka_headers_copy(src) : rd_kafka_headers_new(3));
  for (std::string_view name : {wire::id, wire::delivery_count, wire::not_before}) {
    rd_kafka_header_remove(h.get(), std::string(name).c_str());
  }
  add(h.get(), wire::id, id);
  add(h.get(), wire::delivery_count, std::to_string(delivery_count));
  add(h.get(), wire::not_before,
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(not_before.time_since_epoch()).count()));
  return h;
}

}  // namespace ferry::kafka::detail
