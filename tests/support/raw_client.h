// raw_client: a blocking TCP client for protocol tests. Sends bytes exactly as given and reads
// what the server answers, with timeouts, so tests can assert on the wire bytes and on whether
// the server closed the connection.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::test {

class raw_client {
 public:
  raw_client() = default;
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  raw_client(raw_client&& o) noexcept;
  ~raw_client();

  // Connects to 127.0.0.1:port. When read_info is set, reads and stores the INFO line.
  bool connect(int port, bool read_info = true);
  [[nodiscard]] const std::string& info() const { return info_; }

  bool send(std::string_view bytes);
  // Reads until `needle` appears in what was received (kept in buffer()), or the timeout.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  // Reads until buffer() holds at least `n` bytes, or the timeout.
  bool read_size(std::size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  // Reads whatever arrives within `d` (the server may send nothing).
  std::string read_for(std::chrono::milliseconds d);
  // Waits up to `timeout` for the server to close; true if it did (EOF or reset).
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  // Bytes received so far and not taken.
  [[nodiscard]] const std::string& buffer() const { return buf_; }
  // Returns and clears the received bytes.
  std::string take();
  [[nodiscard]] bool closed() const { return closed_; }
  // CONNECT {json} + PING, then waits for PONG (and clears the buffer).
  bool handshake(std::string_view connect_json = R"({"verbose":false,"pedantic":false})");
  void close();
  [[nodiscard]] int fd() const { return fd_; }

 private:
  // One read with a deadline; false on timeout. Sets closed_ on EOF/error.
  bool read_once(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string info_;
  std::string buf_;
  bool closed_ = false;
};

// A free TCP port on loopback (bound and released).
int free_port();

// A request over a raw connection (a JetStream API call): subscribes a private inbox numbered
// `id`, publishes `body` to `subject` and returns the reply payload ("" on timeout).
std::string raw_request(raw_client& c, const std::string& subject, const std::string& body, int id);

// Sends "+ACK" to each of `ack_subjects`, asking for a confirmation on an inbox of sid 88.
bool send_acks(raw_client& c, const std::vector<std::string>& ack_subjects);
// Waits for `n` confirmations of send_acks(); false if they do not all come within 5 s each.
bool wait_confirmations(raw_client& c, int n);

// One no-wait pull of up to 50 messages from a JetStream pull consumer over a raw connection
// (inbox numbered `id`): their payloads in order; each one's ack subject is appended to
// `ack_subjects` when given.
std::vector<std::string> raw_pull(raw_client& c, const std::string& stream, const std::string& consumer, int id,
                                  std::vector<std::string>* ack_subjects = nullptr);

}  // namespace ferry::test
