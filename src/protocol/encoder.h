// encoder: the frames a server sends (MSG, HMSG), encoded once per message and stamped with
// each subscription's sid on delivery.
//
// A delivered frame is `MSG <subject> <sid>[ <reply>] <size>\r\n<payload>\r\n`; only the sid
// differs between subscribers, so message_encoding keeps the parts around it and append()
// copies them with the sid into a connection's outbound buffer: one encoding per message, one
// copy per destination. The payload view must stay valid while append() is called.
#pragma once

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

#include "base/byte_buffer.h"

namespace ferry::protocol {

class message_encoding {
 public:
  // `data` is the headers followed by the payload; header_size is 0 for a message without
  // headers. REQUIRES: data.data()[data.size()] and the byte after it are "\r\n".
  // `header_token` and `size_token`, when given, are the sizes as the publisher wrote them and
  // are copied verbatim (nats-server does, so "PUB foo 01" is delivered with size "01").
  void reset(std::string_view subject, std::string_view reply, std::size_t header_size, std::string_view data,
             std::string_view header_token = {}, std::string_view size_token = {}, bool reply_field = false) {
    reply_field_ = reply_field;
    header_size_ = header_size;
    data_ = data;
    subject_ = subject;
    reply_ = reply;
    header_token_ = header_token;
    size_token_ = size_token;
    line_.clear();
    plain_ready_ = false;
    build(line_, head_len_, header_size > 0);
  }

  [[nodiscard]] bool has_headers() const { return header_size_ > 0; }

  // Appends the frame for subscription `sid`. When `client_headers` is false and the message
  // has headers, they are stripped and a plain MSG is sent, as nats-server does.
  void append(byte_buffer& out, std::string_view sid, bool client_headers = true) {
    if (header_size_ > 0 && !client_headers) {
      if (!plain_ready_) {
        build(plain_line_, plain_head_len_, false);
        plain_ready_ = true;
      }
      put(out, plain_line_, plain_head_len_, sid, data_.substr(header_size_));
      return;
    }
    put(out, line_, head_len_, sid, data_);
  }

  // Size of the frame append() writes for a sid of `sid_len` bytes (with headers).
  [[nodiscard]] std::size_t frame_size(std::size_t sid_len) const {
    return line_.size() + sid_len + data_.size() + 2;
  }

 private:
  static void put(byte_buffer& out, const std::string& line, std::size_t head_len,
                  std::string_view sid, std::string_view body) {
    const std::size_t n = line.size() + sid.size() + body.size() + 2;
    char* w = out.prepare(n);
    std::memcpy(w, line.data(), head_len);
    w += head_len;
    std::memcpy(w, sid.data(), sid.size());
    w += sid.size();
    std::memcpy(w, line.data() + head_len, line.size() - head_len);
    w += line.size() - head_len;
    std::memcpy(w, body.data(), body.size() + 2);  // the CRLF follows the body in the source
    out.commit(n);
  }
  // line = "MSG <subject> " + " [reply] [hdr] size\r\n"; head_len = length of the first part.
  void build(std::string& line, std::size_t& head_len, bool with_headers) const {
    line.clear();
    line += with_headers ? "HMSG " : "MSG ";
    line += subject_;
    line += ' ';
    head_len = line.size();
    if (!reply_.empty() || reply_field_) {
      line += ' ';
      line += reply_;
    }
    char num[24];
    auto put_number = [&](std::size_t v, std::string_view token) {
      line += ' ';
      if (!token.empty()) {
        line += token;
      } else {
        auto r = std::to_chars(num, num + sizeof num, v);
        line.append(num, r.ptr);
      }
    };
    if (with_headers) {
      put_number(header_size_, header_token_);
      put_number(data_.size(), size_token_);
    } else if (header_size_ == 0) {
      put_number(data_.size(), size_token_);
    } else {
      put_number(data_.size() - header_size_, {});  // headers stripped: a new size
    }
    line += "\r\n";
  }

  std::string_view subject_;
  std::string_view reply_;
  std::string_view data_;
  std::string_view header_token_;
  std::string_view size_token_;
  std::size_t header_size_ = 0;
  std::string line_;
  std::size_t head_len_ = 0;
  std::string plain_line_;
  std::size_t plain_head_len_ = 0;
  bool plain_ready_ = false;
  bool reply_field_ = false;
};

// Appends a complete MSG/HMSG frame with a payload that is not followed by CRLF in memory
// (messages the server makes itself: JetStream replies, status messages).
void append_msg(byte_buffer& out, std::string_view subject, std::string_view sid,
                std::string_view reply, std::string_view headers, std::string_view payload,
                bool client_headers = true);

}  // namespace ferry::protocol
