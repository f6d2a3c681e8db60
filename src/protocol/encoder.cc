#include "protocol/encoder.h"

namespace ferry::protocol {

void append_msg(byte_buffer& out, std::string_view subject, std::string_view sid,
                std::string_view reply, std::string_view headers, std::string_view payload,
                bool client_headers) {
  const bool hmsg = !headers.empty() && client_headers;
  char num[24];
  char total[24];
  const std::size_t num_len =
      static_cast<std::size_t>(std::to_chars(num, num + sizeof num, hmsg ? headers.size() : payload.size()).ptr - num);
  const std::size_t total_len =
      hmsg ? static_cast<std::size_t>(std::to_chars(total, total + sizeof total, headers.size() + payload.size()).ptr - total)
           : 0;
  out.append(hmsg ? std::string_view("HMSG ") : std::string_view("MSG "));
  out.append(subject);
  out.push_back(' ');
  out.append(sid);
  out.push_back(' ');
  if (!reply.empty()) {
    out.append(reply);
    out.push_back(' ');
  }
  out.append(num, num_len);
  if (hmsg) {
    out.push_back(' ');
    out.append(total, total_len);
  }
  out.append("\r\n");
  if (hmsg) out.append(headers);
  out.append(payload);
  out.append("\r\n");
}

}  // namespace ferry::protocol
