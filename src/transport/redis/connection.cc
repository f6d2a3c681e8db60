#include "transport/redis/connection.h"

#include <spdlog/spdlog.h>
#include <sys/time.h>

#include <algorithm>
#include <thread>

namespace ferry::redis::detail {
namespace {

using namespace std::chrono_literals;

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

status from_error_reply(std::string_view text) {
  const std::string msg = "redis: " + std::string(text);
  for (std::string_view p : {"BUSYGROUP", "NOGROUP", "NOSCRIPT", "READONLY", "LOADING", "MASTERDOWN"}) {
    if (text.starts_with(p)) return text.starts_with("LOADING") ? unavailable(msg) : failed_precondition(msg);
  }
  if (text.starts_with("NOAUTH") || text.starts_with("WRONGPASS")) return {status_code::unauthenticated, msg};
  if (text.starts_with("NOPERM")) return permission_denied(msg);
  if (text.starts_with("OOM")) return resource_exhausted(msg);
  return invalid_argument(msg);  // ERR, WRONGTYPE: the command or its arguments
}

}  // namespace

args& args::add(std::string_view s) {
  ptr_.push_back(s.data());
  len_.push_back(s.size());
  return *this;
}

args& args::add_owned(std::string s) {
  if (small_used_ < small_.size()) {
    std::string& slot = small_[small_used_++];
    slot = std::move(s);
    return add(slot);
  }
  more_.push_back(std::move(s));
  return add(more_.back());
}

void args::clear() {
  ptr_.clear();
  len_.clear();
  small_used_ = 0;
  more_.clear();
}

std::string_view text(const redisReply* r) {
  if (r == nullptr ||
      (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_ERROR)) {
    return {};
  }
  return {r->str, r->len};
}

result<std::unique_ptr<connection>> connection::open(const std::string& address, const options& o,
                                                     std::string_view name) {
  std::unique_ptr<connection> c(new connection(address, o, std::string(name)));
  FERRY_RETURN_IF_ERROR(c->connect());
  return c;
}

connection::~connection() {
  if (c_ != nullptr) redisFree(c_);
}

status connection::connect() {
  if (c_ != nullptr) redisFree(std::exchange(c_, nullptr));
  const timeval tv = to_timeval(options_.connect_timeout);
  if (!address_.empty() && address_[0] == '/') {
    c_ = redisConnectUnixWithTimeout(address_.c_str(), tv);
  } else {
    const std::size_t colon = address_.rfind(':');
    const std::string host = colon == std::string::npos ? address_ : address_.substr(0, colon);
    const int port = colon == std::string::npos ? 6379 : std::atoi(address_.c_str() + colon + 1);
    c_ = redisConnectWithTimeout(host.empty() ? "127.0.0.1" : host.c_str(), port, tv);
  }
  if (c_ == nullptr) return resource_exhausted("redis: cannot allocate a connection");
  if (c_->err != 0) return unavailable("redis at " + address_ + ": " + c_->errstr);
  redisEnableKeepAlive(c_);
  // Commands other than blocking reads answer within the connect timeout, or the server is gone.
  redisSetTimeout(c_, to_timeval(read_timeout_.count() > 0 ? read_timeout_ : options_.connect_timeout));
  if (!options_.password.empty()) {
    args a;
    a.add("AUTH").add(options_.password);
    FERRY_RETURN_IF_ERROR(run(a).status());
  }
  if (options_.database != 0) {
    args a;
    a.add("SELECT").add(static_cast<std::uint64_t>(options_.database));
    FERRY_RETURN_IF_ERROR(run(a).status());
  }
  if (!name_.empty()) {
    args a;
    a.add("CLIENT").add("SETNAME").add(name_);
    (void)run(a);  // a name is for the operator's CLIENT LIST: not worth failing for
  }
  return status::ok();
}

status connection::reconnect() { return connect(); }

void connection::set_read_timeout(std::chrono::milliseconds t) {
  read_timeout_ = t;
  if (c_ != nullptr && c_->err == 0) redisSetTimeout(c_, to_timeval(t));
}

status connection::io_error() {
  if (c_ == nullptr) return unavailable("redis at " + address_ + ": not connected");
  return unavailable("redis at " + address_ + ": " + (c_->errstr[0] != '\0' ? c_->errstr : "connection lost"));
}

result<reply> connection::run(args& a) {
  if (broken()) return io_error();
  reply r(static_cast<redisReply*>(redisCommandArgv(c_, a.size(), a.argv(), a.lens())));
  if (!r) return io_error();
  if (r->type == REDIS_REPLY_ERROR) return from_error_reply(text(r.get()));
  return r;
}

status connection::append(args& a) {
  if (broken()) return io_error();
  if (redisAppendCommandArgv(c_, a.size(), a.argv(), a.lens()) != REDIS_OK) return io_error();
  return status::ok();
}

result<reply> connection::next_reply() {
  if (broken()) return io_error();
  void* out = nullptr;
  if (redisGetReply(c_, &out) != REDIS_OK || out == nullptr) return io_error();
  reply r(static_cast<redisReply*>(out));
  if (r->type == REDIS_REPLY_ERROR) return from_error_reply(text(r.get()));
  return r;
}

void blocking_reads::connected(connection& c) {
  args a;
  a.add("CLIENT").add("ID");
  auto r = c.run(a);
  client_id_ = r.is_ok() && (*r)->type == REDIS_REPLY_INTEGER ? (*r)->integer : -1;
}

result<reply> blocking_reads::run(connection& c, args& a) {
  // Against stop(): it sets stopping_ before it reads reading_as_, so either this sees stopping_
  // or stop() sees the id and unblocks the read.
  reading_as_.store(client_id_);
  if (stopping_.load()) {
    reading_as_.store(-1);
    return reply(nullptr);
  }
  auto r = c.run(a);
  reading_as_.store(-1);
  return r;
}

void blocking_reads::stop_all(std::span<blocking_reads* const> reads) {
  std::vector<std::pair<blocking_reads*, std::int64_t>> out;  // the reads in progress
  for (blocking_reads* r : reads) {
    if (r->stopping_.exchange(true)) continue;
    if (const std::int64_t id = r->reading_as_.load(); id >= 0) out.emplace_back(r, id);
  }
  if (out.empty()) return;
  const blocking_reads& first = *out.front().first;
  options o = first.options_;
  o.connect_timeout = std::min(o.connect_timeout, o.block);  // also each command's reply timeout
  auto c = connection::open(first.address_, o, "");
  if (!c.is_ok()) return;  // the reads end by themselves within `block`
  // An UNBLOCK may reach Redis before its read does (two connections): it unblocks nothing then,
  // and goes again while the read is still out. A read on a connection Redis has dropped is never
  // unblocked: the deadline ends the tries.
  const auto give_up = std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(o.block, 50ms);
  while (!out.empty()) {
    std::erase_if(out, [&](const auto& p) {
      if (p.first->reading_as_.load() != p.second) return true;  // that read has returned
      args a;
      a.add("CLIENT").add("UNBLOCK").add(static_cast<std::uint64_t>(p.second));
      auto r = (*c)->run(a);
      if (!r.is_ok()) {
        spdlog::debug("redis: CLIENT UNBLOCK refused ({}): the read ends within {} ms", r.status().to_string(),
                      o.block.count());
        return true;
      }
      return (*r)->type == REDIS_REPLY_INTEGER && (*r)->integer == 1;
    });
    if (out.empty() || (*c)->broken() || std::chrono::steady_clock::now() >= give_up) return;
    std::this_thread::sleep_for(1ms);
  }
}

status check_stream(std::string_view subject, subject_use use) {
  if (use == subject_use::publish) return check_subject(subject, use);
  if (subject == "*" || subject == ">" || subject.find(".*") != std::string_view::npos ||
      subject.find(".>") != std::string_view::npos || subject.starts_with("*.") || subject.starts_with(">.")) {
    return invalid_argument("\"" + std::string(subject) +
                            "\": Redis streams have no wildcards; subscribe to each stream by its full name");
  }
  if (subject.find('#') != std::string_view::npos) {
    // A publish to "stream#token" goes to `stream` (a reply address): no stream is read by that name.
    return invalid_argument("\"" + std::string(subject) + "\": '#' marks a reply address (stream#token)");
  }
  return check_subject(subject, use);
}

}  // namespace ferry::redis::detail
