// The Redis Streams transport (include/ferry/redis.h): one connection for publishing (guarded by a
// mutex, reconnected through outages), one reader per subscription, and the reply listener.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "base/close_gate.h"
#include "ferry/redis.h"
#include "transport/redis/codec.h"
#include "transport/redis/connection.h"
#include "transport/redis/stream_reader.h"

namespace ferry::redis {
namespace {

using namespace std::chrono_literals;
using detail::args;
using detail::connection;
using detail::reply;
using detail::stream_reader;

// Where a message goes: a stream, or a reply address "<stream>#<token>".
struct destination {
  std::string_view stream;
  std::string_view token;
};
destination split(const std::string& subject) {
  const std::size_t hash = subject.find('#');
  if (hash == std::string::npos) return {subject, {}};
  return {std::string_view(subject).substr(0, hash), std::string_view(subject).substr(hash + 1)};
}

// Reply streams keep the last entries only.
constexpr std::uint64_t reply_maxlen = 1000;

// Consumer names in use in this process: the first subscription of a stream and group gets the
// configured name, the next ones -2, -3..., and a name is free again once its subscription is gone,
// so a process that subscribes in the same order after a restart uses the same names (and gets
// its pending entries back first).
class consumer_names {
 public:
  // The name for `base` in `stream` and `group`, held until release().
  static std::string take(const std::string& base, const std::string& stream, const std::string& group) {
    std::lock_guard lock(mu());
    std::set<int>& used = in_use()[base + '\n' + stream + '\n' + group];
    int n = 1;
    while (used.contains(n)) ++n;
    used.insert(n);
    return n == 1 ? base : base + "-" + std::to_string(n);
  }
  static void release(const std::string& base, const std::string& stream, const std::string& group,
                      const std::string& name) {
    const int n = name == base ? 1 : std::atoi(name.c_str() + base.size() + 1);
    std::lock_guard lock(mu());
    in_use()[base + '\n' + stream + '\n' + group].erase(n);
  }

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::set<int>>& in_use() {  // guarded by mu()
    static std::map<std::string, std::set<int>> m;
    return m;
  }
};

class redis_subscription final : public subscription {
 public:
  redis_subscription(std::shared_ptr<stream_reader> r, std::string base, std::string group, std::string name)
      : r_(std::move(r)), base_(std::move(base)), group_(std::move(group)), name_(std::move(name)) {}
  ~redis_subscription() override {
    stop();
    if (!group_.empty()) consumer_names::release(base_, r_->subject(), group_, name_);
  }
  void stop() override { r_->stop(); }
  [[nodiscard]] const std::string& subject() const override { return r_->subject(); }

 private:
  const std::shared_ptr<stream_reader> r_;
  const std::string base_, group_, name_;  // the consumer name it holds (in a group)
};

class redis_transport final : public transport {
 public:
  redis_transport(std::string address, options o, std::unique_ptr<connection> c)
      : address_(std::move(address)), options_(std::move(o)), pub_(std::move(c)), reply_reads_(address_, options_) {}
  ~redis_transport() override { close(); }

  [[nodiscard]] capabilities caps() const override {
    return {.persistent = true,
            .consumer_groups = true,
            .per_key_order = false,  // a group hands entries to its members in no key order
            .delayed_delivery = true,
            .request_reply = true,
            .redelivery = true,
            .delivery_count = true,
            .wildcards = false,
            .no_responders = false};
  }
  [[nodiscard]] std::string_view name() const override { return "redis"; }

  status publish(message m) override { return send_all(std::span<message>(&m, 1)); }

  // XADDs, pipelined; through a lost connection they are sent again until publish_timeout (an entry
  // whose reply was lost may then be stored twice, with the same ferry-id).
  status publish(std::vector<message> ms) override { return send_all(ms); }

  status flush(std::chrono::milliseconds) override { return status::ok(); }  // publish() returns once Redis has it

  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options o,
                                                  delivery_callback cb) override {
    FERRY_RETURN_IF_ERROR(detail::check_stream(subject, subject_use::subscribe));
    stream_reader::config c{
        .stream = subject,
        .group = o.group,
        .subscription = o,
        .callback = ::ferry::detail::scoped_callback(static_cast<const transport*>(this), std::move(cb))};
    if (!o.group.empty()) c.consumer = consumer_names::take(options_.consumer, subject, o.group);
    const std::string name = c.consumer;
    auto r = stream_reader::start(address_, options_, std::move(c));
    if (!r.is_ok() || closed_.load()) {
      if (!o.group.empty()) consumer_names::release(options_.consumer, subject, o.group, name);
      if (!r.is_ok()) return r.status();
      (*r)->stop();
      return failed_precondition("subscribe after the transport was closed");
    }
    std::lock_guard lock(mu_);
    std::erase_if(readers_, [](const auto& w) { return w.expired(); });
    readers_.push_back(*r);
    return std::unique_ptr<subscription>(
        std::make_unique<redis_subscription>(std::move(*r), options_.consumer, o.group, name));
  }

  result<message> request(message m, std::chrono::milliseconds timeout) override;

  void close() override {
    if (!close_->begin(::ferry::detail::callback_scope::inside(static_cast<const transport*>(this)))) return;
    closed_.store(true);
    std::vector<std::weak_ptr<stream_reader>> readers;
    {
      std::lock_guard lock(mu_);
      readers.swap(readers_);
    }
    std::vector<std::shared_ptr<stream_reader>> live;
    for (auto& w : readers) {
      if (auto r = w.lock()) live.push_back(std::move(r));
    }
    // The blocking reads of all, the reply listener's too, end together; then each thread.
    std::vector<detail::blocking_reads*> reads{&reply_reads_};
    for (auto& r : live) reads.push_back(&r->reads());
    detail::blocking_reads::stop_all(reads);
    for (auto& r : live) r->request_stop();
    for (auto& r : live) r->stop();
    stop_replies();
    ::ferry::detail::close_gate::finish(close_, static_cast<const transport*>(this));
  }

 private:
  // The XADD of `m`. `m` must outlive `a`.
  status xadd(const message& m, args& a) {
    const destination to = split(m.subject);
    a.add("XADD").add(to.stream);
    const std::uint64_t maxlen = to.token.empty() ? options_.maxlen : reply_maxlen;
    if (maxlen > 0) a.add("MAXLEN").add("~").add(maxlen);
    a.add("*");
    detail::add_fields(m, to.token, a);
    return status::ok();
  }

  status send_all(std::span<message> ms) {
    for (message& m : ms) {
      if (m.id.empty()) m.id = new_id();
      FERRY_RETURN_IF_ERROR(detail::check_stream(split(m.subject).stream, subject_use::publish));
      FERRY_RETURN_IF_ERROR(detail::check_headers(m));
    }
    std::lock_guard lock(pub_mu_);
    if (closed_.load()) return failed_precondition("publish after the transport was closed");
    const auto give_up = std::chrono::steady_clock::now() + options_.publish_timeout;
    std::size_t done = 0;
    for (;;) {
      status s = send(ms, done);
      if (s.is_ok() || s.code() != status_code::unavailable || std::chrono::steady_clock::now() > give_up) return s;
      std::this_thread::sleep_for(100ms);
      (void)pub_->reconnect();
    }
  }

  // Sends the XADDs of ms[done..] pipelined and reads their replies, advancing `done`. hiredis
  // formats a command when it is appended, so one argument vector serves them all. An error reply
  // (OOM, READONLY, WRONGTYPE) ends the batch, but the replies after it are still read: left
  // unread, each would answer the next publish in place of its own.
  status send(std::span<message> ms, std::size_t& done) {
    if (pub_->broken()) FERRY_RETURN_IF_ERROR(pub_->reconnect());
    for (std::size_t i = done; i < ms.size(); ++i) {
      xadd_args_.clear();
      FERRY_RETURN_IF_ERROR(xadd(ms[i], xadd_args_));
      FERRY_RETURN_IF_ERROR(pub_->append(xadd_args_));
    }
    for (; done < ms.size(); ++done) {
      status s = pub_->next_reply().status();
      if (s.is_ok()) continue;
      if (pub_->broken()) return s;  // resent from `done` after a reconnect
      for (std::size_t rest = ms.size() - done - 1; rest > 0 && !pub_->broken(); --rest) (void)pub_->next_reply();
      return s;
    }
    return status::ok();
  }

  status start_replies();
  void serve_replies();
  void stop_replies();

  const std::string address_;
  const options options_;
  std::mutex pub_mu_;  // guards pub_ and xadd_args_
  std::unique_ptr<connection> pub_;
  args xadd_args_;
  std::mutex mu_;
  std::vector<std::weak_ptr<stream_reader>> readers_;  // guarded by mu_
  std::atomic<bool> closed_{false};
  const std::shared_ptr<::ferry::detail::close_gate> close_ = std::make_shared<::ferry::detail::close_gate>();

  // Request/reply.
  std::mutex reply_mu_;
  std::condition_variable replied_;
  std::string reply_stream_;                               // guarded by reply_mu_ (set once)
  std::map<std::string, std::optional<message>> waiting_;  // by token, guarded by reply_mu_
  std::unique_ptr<connection> reply_conn_;                 // the listener's
  std::string reply_last_id_;
  detail::blocking_reads reply_reads_;  // on reply_conn_; stopped by close()
  std::thread reply_thread_;
};

status redis_transport::start_replies() {
  if (reply_thread_.joinable()) return status::ok();
  const std::string stream = options_.reply_stream.empty() ? "ferry.reply." + new_id() : options_.reply_stream;
  FERRY_ASSIGN_OR_RETURN(reply_conn_, connection::open(address_, options_, "ferry-replies"));
  reply_conn_->set_read_timeout(options_.block + options_.connect_timeout);
  reply_reads_.connected(*reply_conn_);
  args a;
  a.add("XREVRANGE").add(stream).add("+").add("-").add("COUNT").add("1");
  FERRY_ASSIGN_OR_RETURN(reply r, reply_conn_->run(a));
  reply_last_id_ =
      r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? std::string(detail::entry_id(r->element[0])) : "0-0";
  reply_stream_ = stream;
  reply_thread_ = std::thread([this] { serve_replies(); });
  return status::ok();
}

void redis_transport::serve_replies() {
  while (!reply_reads_.stopping()) {
    args a;
    a.add("XREAD").add("COUNT").add("256").add("BLOCK").add(static_cast<std::uint64_t>(options_.block.count()));
    a.add("STREAMS").add(reply_stream_).add(reply_last_id_);
    auto r = reply_reads_.run(*reply_conn_, a);
    if (!r.is_ok()) {
      if (reply_reads_.stopping()) break;
      std::this_thread::sleep_for(100ms);
      if (reply_conn_->reconnect().is_ok()) reply_reads_.connected(*reply_conn_);
      continue;
    }
    const redisReply* top = r->get();
    if (top == nullptr || top->type != REDIS_REPLY_ARRAY || top->elements == 0 ||
        top->element[0]->type != REDIS_REPLY_ARRAY || top->element[0]->elements < 2) {
      continue;
    }
    const redisReply* entries = top->element[0]->element[1];
    for (std::size_t i = 0; i < entries->elements; ++i) {
      message m;
      const std::string token = detail::from_entry(entries->element[i], reply_stream_, m);
      reply_last_id_ = detail::entry_id(entries->element[i]);
      std::lock_guard lock(reply_mu_);
      if (auto it = waiting_.find(token); it != waiting_.end() && !it->second) {
        it->second = std::move(m);
        replied_.notify_all();
      }  // else a late reply to a request that gave up
    }
    args e;  // the reply stream outlives this process by an hour at most
    e.add("EXPIRE").add(reply_stream_).add("3600");
    (void)reply_conn_->run(e);
  }
}

void redis_transport::stop_replies() {
  reply_reads_.stop();
  std::thread t;
  {
    // Under the lock: request() starts the listener under it once it saw stopping() false.
    std::lock_guard lock(reply_mu_);
    t = std::move(reply_thread_);
  }
  if (t.joinable()) t.join();
  std::lock_guard lock(reply_mu_);
  replied_.notify_all();
}

result<message> redis_transport::request(message m, std::chrono::milliseconds timeout) {
  FERRY_RETURN_IF_ERROR(detail::check_stream(m.subject, subject_use::publish));
  const std::string token = new_id();
  {
    std::lock_guard lock(reply_mu_);
    if (reply_reads_.stopping()) return failed_precondition("request after the transport was closed");
    FERRY_RETURN_IF_ERROR(start_replies());
    m.reply = reply_stream_ + "#" + token;
    waiting_[token];
  }
  const std::string subject = m.subject;
  status sent = publish(std::move(m));
  std::unique_lock lock(reply_mu_);
  auto it = waiting_.find(token);
  if (sent.is_ok()) {
    replied_.wait_for(lock, timeout, [&] { return it->second.has_value() || reply_reads_.stopping(); });
  }
  std::optional<message> got = std::move(it->second);
  waiting_.erase(it);
  if (!sent.is_ok()) return sent;
  if (!got) return deadline_exceeded("no reply to " + subject + " within " + std::to_string(timeout.count()) + " ms");
  return std::move(*got);
}

std::string default_consumer() {
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

}  // namespace

result<std::unique_ptr<transport>> connect(const std::string& address, options o) {
  if (o.consumer.empty()) o.consumer = default_consumer();
  FERRY_ASSIGN_OR_RETURN(auto c, connection::open(address, o, "ferry-publish"));
  args info;
  info.add("INFO").add("server");
  FERRY_ASSIGN_OR_RETURN(reply r, c->run(info));
  const std::string_view text = detail::text(r.get());
  const std::size_t at = text.find("redis_version:");
  int major = 0;
  if (at != std::string_view::npos) std::from_chars(text.data() + at + 14, text.data() + text.size(), major);
  if (major < 7) {
    return failed_precondition("redis at " + address + " is version " + std::to_string(major) +
                               "; the transport needs 7.0 or later (XAUTOCLAIM)");
  }
  return std::unique_ptr<transport>(std::make_unique<redis_transport>(address, std::move(o), std::move(c)));
}

result<std::unique_ptr<transport>> connect_url(const transport_url& url) {
  url_params p(url);
  options o;
  std::string host = url.hosts;
  if (const std::size_t at = host.rfind('@'); at != std::string::npos) {
    const std::string userinfo = host.substr(0, at);
    o.password = userinfo.substr(userinfo.find(':') == std::string::npos ? 0 : userinfo.find(':') + 1);
    host = host.substr(at + 1);
  }
  if (const std::size_t slash = host.find('/'); slash != std::string::npos && slash != 0) {
    const std::string db = host.substr(slash + 1);
    host = host.substr(0, slash);
    const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), o.database);
    if (ec != std::errc() || end != db.data() + db.size() || o.database < 0) {
      return invalid_argument("redis URL database \"" + db + "\" is not a number");
    }
  }
  if (host.empty()) host = "127.0.0.1:6379";
  if (auto v = p.text("consumer")) o.consumer = *v;
  if (auto v = p.text("reply_stream")) o.reply_stream = *v;
  FERRY_ASSIGN_OR_RETURN(auto maxlen, p.integer("maxlen", 0, std::int64_t{1} << 62));
  if (maxlen) o.maxlen = static_cast<std::uint64_t>(*maxlen);
  if (auto v = p.text("group_start")) {
    if (*v != "beginning" && *v != "end")
      return invalid_argument("redis option group_start=\"" + *v + "\" is not beginning or end");
    o.start = *v == "beginning" ? group_start::beginning : group_start::end;
  }
  const std::pair<const char*, std::chrono::milliseconds*> durations[] = {
      {"connect_timeout", &o.connect_timeout}, {"publish_timeout", &o.publish_timeout}, {"block", &o.block}};
  for (const auto& [key, field] : durations) {
    FERRY_ASSIGN_OR_RETURN(auto d, p.duration(key));
    if (d) *field = *d;
  }
  FERRY_RETURN_IF_ERROR(p.finish());
  return connect(host, std::move(o));
}

}  // namespace ferry::redis
