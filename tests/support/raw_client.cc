#include "raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::test {

raw_client::raw_client(raw_client&& o) noexcept
    : fd_(o.fd_), info_(std::move(o.info_)), buf_(std::move(o.buf_)), closed_(o.closed_) {
  o.fd_ = -1;
}

raw_client::~raw_client() { close(); }

void raw_client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool raw_client::connect(int port, bool read_info) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!read_info) return true;
  if (!read_until("\r\n")) return false;
  std::size_t end = buf_.find("\r\n") + 2;
  info_ = buf_.substr(0, end);
  buf_.erase(0, end);
  return info_.rfind("INFO ", 0) == 0;
}

bool raw_client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool raw_client::read_once(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(left.count()));
  if (r <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

bool raw_client::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buf_.find(needle) == std::string::npos) {
    if (closed_ || !read_once(deadline)) return buf_.find(needle) != std::string::npos;
  }
  return true;
}

bool raw_client::read_size(std::size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buf_.size() < n) {
    if (closed_ || !read_once(deadline)) return buf_.size() >= n;
  }
  return true;
}

std::string raw_client::read_for(std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  while (!closed_ && std::chrono::steady_clock::now() < deadline) read_once(deadline);
  return take();
}

bool raw_client::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && std::chrono::steady_clock::now() < deadline) read_once(deadline);
  return closed_;
}

std::string raw_client::take() {
  std::string s;
  s.swap(buf_);
  return s;
}

bool raw_client::handshake(std::string_view connect_json) {
  std::string c = "CONNECT " + std::string(connect_json) + "\r\nPING\r\n";
  if (!send(c) || !read_until("PONG\r\n")) return false;
  buf_.clear();
  return true;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

}  // namespace ferry::test

namespace ferry::test {

std::string raw_request(raw_client& c, const std::string& subject, const std::string& body, int id) {
  using namespace std::chrono_literals;
  const std::string inbox = "_INBOX.req." + std::to_string(id);
  if (!c.send("SUB " + inbox + " 900\r\nPUB " + subject + " " + inbox + " " + std::to_string(body.size()) + "\r\n" +
              body + "\r\nUNSUB 900 1\r\n")) {
    return {};
  }
  if (!c.read_until("MSG " + inbox, 5s)) return {};
  std::string buf = c.buffer();
  const std::size_t at = buf.find("MSG " + inbox);
  const std::size_t eol = buf.find("\r\n", at);
  if (eol == std::string::npos) return {};
  const std::string line = buf.substr(at, eol - at);
  const std::size_t size = std::stoul(line.substr(line.rfind(' ') + 1));
  if (!c.read_size(eol + 2 + size + 2, 5s)) return {};
  buf = c.take();
  return buf.substr(eol + 2, size);
}

bool send_acks(raw_client& c, const std::vector<std::string>& ack_subjects) {
  std::string out = "SUB _INBOX.acks 88\r\n";
  for (const std::string& a : ack_subjects) out += "PUB " + a + " _INBOX.acks 4\r\n+ACK\r\n";
  return c.send(out);
}

bool wait_confirmations(raw_client& c, int n) {
  using namespace std::chrono_literals;
  for (int confirmed = 0; confirmed < n;) {
    if (!c.read_until("MSG _INBOX.acks 88 ", 5s)) return false;
    const std::string got = c.take();
    for (std::size_t at = 0; (at = got.find("MSG _INBOX.acks 88 ", at)) != std::string::npos; ++at) ++confirmed;
  }
  return true;
}

std::vector<std::string> raw_pull(raw_client& c, const std::string& stream, const std::string& consumer, int id,
                                  std::vector<std::string>* ack_subjects) {
  using namespace std::chrono_literals;
  const std::string inbox = "_INBOX.pull." + std::to_string(id);
  const std::string body = R"({"batch":50,"no_wait":true})";
  std::vector<std::string> out;
  if (!c.send("SUB " + inbox + " 77\r\nPUB $JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer + " " + inbox + " " +
              std::to_string(body.size()) + "\r\n" + body + "\r\n")) {
    return out;
  }
  // The pull ends with a status (404 No Messages, or 408) once nothing more is there.
  if (!c.read_until("NATS/1.0 40", 5s)) return out;
  const std::string buf = c.read_for(100ms);  // all of it, and whatever follows in the same write
  (void)c.send("UNSUB 77\r\n");
  // "MSG <subject> 77 <reply> <size>": messages (on their own subjects); "HMSG ...": statuses.
  for (std::size_t at = 0; at < buf.size();) {
    const std::size_t eol = buf.find("\r\n", at);
    if (eol == std::string::npos) break;
    const std::string line = buf.substr(at, eol - at);
    std::size_t next = eol + 2;
    if (line.starts_with("MSG ") || line.starts_with("HMSG ")) {
      const std::size_t total = std::stoul(line.substr(line.rfind(' ') + 1));
      if (line.starts_with("MSG ") && line.find(" 77 ") != std::string::npos) {
        out.push_back(buf.substr(eol + 2, total));
        const std::string head = line.substr(0, line.rfind(' '));
        if (ack_subjects != nullptr) ack_subjects->push_back(head.substr(head.rfind(' ') + 1));
      }
      next = eol + 2 + total + 2;
    }
    at = next;
  }
  return out;
}

}  // namespace ferry::test
