#include "broker/http_server.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <cctype>
#include <optional>
#include <thread>

namespace ferry::broker {
namespace {

using asio::ip::tcp;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

struct http_server::impl {
  explicit impl(http_server_options o) : opts(o) {}

  class connection : public std::enable_shared_from_this<connection> {
   public:
    connection(impl& srv, tcp::socket s)
        : srv_(srv), sock_(std::move(s)), timer_(sock_.get_executor()), buf_(srv.opts.max_header_bytes) {
      ++srv_.open;
    }
    ~connection() { --srv_.open; }

    void read_head() {
      reading_ = true;
      timer_.expires_after(srv_.opts.header_timeout);
      timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
        // The whole head (or the next one on a kept-alive connection) did not come in time.
        if (!ec && self->reading_) {
          asio::error_code ignored;
          self->sock_.close(ignored);
        }
      });
      asio::async_read_until(sock_, buf_, "\r\n\r\n",
                             [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                               self->reading_ = false;
                               self->timer_.cancel();
                               if (ec == asio::error::not_found) return self->answer_and_close(431);
                               if (ec) return;  // closed, timed out, or reset
                               self->handle(n);
                             });
    }

   private:
    void answer_and_close(int status) {
      http_response r{status, "text/plain; charset=utf-8", std::string(reason(status)) + "\n"};
      write(r, false, false);
    }

    void handle(std::size_t n) {
      const std::string head(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + static_cast<long>(n));
      buf_.consume(n);
      const std::size_t eol = head.find("\r\n");
      const std::string_view line = std::string_view(head).substr(0, eol);
      const std::size_t sp1 = line.find(' ');
      const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos) return answer_and_close(400);
      http_request req;
      req.method = std::string(line.substr(0, sp1));
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      if (!version.starts_with("HTTP/1.") || target.empty() || target.front() != '/') return answer_and_close(400);
      const std::size_t q = target.find('?');
      req.path = decode(target.substr(0, q));
      if (q != std::string_view::npos) {
        std::string_view query = target.substr(q + 1);
        while (!query.empty()) {
          const std::size_t amp = query.find('&');
          const std::string_view pair = query.substr(0, amp);
          const std::size_t eq = pair.find('=');
          if (!pair.empty()) {
            req.params[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
          }
          if (amp == std::string_view::npos) break;
          query.remove_prefix(amp + 1);
        }
      }
      bool keep_alive = version == "HTTP/1.1";
      bool has_body = false;
      for (std::size_t at = eol + 2; at < head.size();) {
        const std::size_t end = head.find("\r\n", at);
        const std::string_view h = std::string_view(head).substr(at, end - at);
        at = end + 2;
        const std::size_t colon = h.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view name = h.substr(0, colon);
        const std::string_view value = trim(h.substr(colon + 1));
        if (iequals(name, "Connection")) {
          if (iequals(value, "close")) keep_alive = false;
          if (iequals(value, "keep-alive")) keep_alive = true;
        } else if ((iequals(name, "Content-Length") && value != "0") || iequals(name, "Transfer-Encoding")) {
          has_body = true;
        }
      }
      if (has_body) keep_alive = false;  // the body is not read: answer, then close
      if (srv_.observer) srv_.observer(req);
      http_response r;
      if (req.method != "GET" && req.method != "HEAD") {
        r = {405, "text/plain; charset=utf-8", "405 method not allowed\n"};
      } else if (auto it = srv_.routes.find(req.path); it == srv_.routes.end()) {
        r = {404, "text/plain; charset=utf-8", "404 page not found\n"};
      } else {
        try {
          r = it->second(req);
        } catch (const std::exception& e) {
          spdlog::warn("monitoring: {} {} failed: {}", req.method, req.path, e.what());
          r = {500, "text/plain; charset=utf-8", "500 internal server error\n"};
        }
      }
      write(r, keep_alive, req.method == "HEAD");
    }

    void write(const http_response& r, bool keep_alive, bool head_only) {
      out_ = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\nContent-Type: " + r.content_type +
             "\r\nContent-Length: " + std::to_string(r.body.size()) +
             (keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
      if (!head_only) out_ += r.body;
      asio::async_write(sock_, asio::buffer(out_),
                        [self = shared_from_this(), keep_alive](const asio::error_code& ec, std::size_t) {
                          if (ec) return;
                          if (keep_alive) return self->read_head();
                          asio::error_code ignored;
                          self->sock_.shutdown(tcp::socket::shutdown_both, ignored);
                          self->sock_.close(ignored);
                        });
    }

    impl& srv_;
    tcp::socket sock_;
    asio::steady_timer timer_;
    asio::streambuf buf_;
    std::string out_;
    bool reading_ = false;
  };

  void accept() {
    acceptor->async_accept([this](const asio::error_code& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        if (open >= opts.max_connections) {
          asio::error_code ignored;
          s.close(ignored);
        } else {
          std::make_shared<connection>(*this, std::move(s))->read_head();
        }
      }
      accept();
    });
  }

  http_server_options opts;
  std::map<std::string, handler> routes;
  std::function<void(const http_request&)> observer;
  std::size_t open = 0;  // connections; touched on the server's thread (and by io's destructor)
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
};

http_server::http_server(http_server_options o) : impl_(std::make_unique<impl>(o)) {}

http_server::~http_server() { stop(); }

void http_server::route(const std::string& path, handler h) { impl_->routes[path] = std::move(h); }

void http_server::on_request(std::function<void(const http_request&)> f) { impl_->observer = std::move(f); }

result<int> http_server::start(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  const char* step = "resolve";
  try {
    tcp::resolver resolver(impl_->io);
    const auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::passive);
    const tcp::endpoint ep = found.begin()->endpoint();
    impl_->acceptor.emplace(impl_->io);
    step = "socket";
    impl_->acceptor->open(ep.protocol());
    // SO_REUSEADDR lets a restart bind while old connections linger in TIME_WAIT; it does not
    // let two listeners share the port (SO_REUSEPORT would, and is deliberately not set).
    impl_->acceptor->set_option(tcp::acceptor::reuse_address(true));
    step = "bind";
    impl_->acceptor->bind(ep);
    step = "listen";
    impl_->acceptor->listen(asio::socket_base::max_listen_connections);
  } catch (const std::system_error& e) {
    impl_->acceptor.reset();
    std::string why = e.code().message();
    if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    return unavailable("can't listen to the monitor port: listen tcp " + where + ": " + step + ": " + why);
  }
  const int bound = impl_->acceptor->local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return bound;
}

void http_server::stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    asio::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  impl_->io.stop();
  impl_->thread.join();
  impl_->acceptor.reset();
}

}  // namespace ferry::broker
