#include "broker/js/jetstream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/post.hpp>
#include <filesystem>
#include <memory>

#include "broker/js/consumer.h"
#include "broker/js/stream.h"
#include "protocol/ack_subject.h"
#include "protocol/go_json.h"
#include "protocol/subject.h"

namespace ferry::broker::js {

namespace {

constexpr std::chrono::milliseconds tick_every{20};

store::store_options store_options_for(const stream_config& c, store::sync_policy sync, std::int64_t interval,
                                       std::shared_ptr<store::file_system> fs) {
  store::store_options o;
  o.fs = std::move(fs);
  o.lim.max_msgs = c.max_msgs;
  o.lim.max_bytes = c.max_bytes;
  o.lim.max_age_ns = c.max_age;
  o.lim.max_msgs_per_subject = c.max_msgs_per_subject;
  o.lim.max_msg_size = c.max_msg_size;
  o.lim.discard = c.discard == discard_policy::new_ ? store::discard_policy::new_ : store::discard_policy::old;
  o.lim.discard_new_per_subject = c.discard_new_per_subject;
  o.sync = sync;
  o.sync_interval_ns = interval;
  // A stream limited in bytes gets segments of a quarter of its limit (at least 64 KiB), as
  // nats-server sizes its blocks: then what the limit discards leaves the disk within a quarter
  // of max_bytes, and a purge that keeps the newest messages frees whole segments.
  if (c.max_bytes > 0) {
    o.segment_bytes = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(c.max_bytes) / 4, 64 << 10, o.segment_bytes);
  }
  return o;
}

}  // namespace

clock& clock::system() {
  struct system_clock final : clock {
    std::int64_t wall_ns() override {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    }
    std::int64_t steady_ns() override {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    }
  };
  static system_clock c;
  return c;
}

jetstream::jetstream(host& h, jetstream_options o)
    : host_(h),
      clock_(o.time != nullptr ? *o.time : clock::system()),
      dir_(std::move(o.store_dir)),
      sync_(o.sync),
      sync_interval_ns_(o.sync_interval_ns),
      fs_(std::move(o.fs)),
      timer_thread_wanted_(o.timer_thread) {}

jetstream::~jetstream() { stop(); }

subscription_ptr jetstream::subscribe(const std::string& subject, internal_handler fn) {
  return host_.subscribe(subject, std::move(fn));
}

void jetstream::unsubscribe(const subscription_ptr& s) { host_.unsubscribe(s); }

status jetstream::start() {
  if (status s = fs().make_dirs(dir_ + "/streams"); !s.is_ok()) {
    return io_error("creating the JetStream store directory " + dir_ + ": " + s.message());
  }
  FERRY_RETURN_IF_ERROR(recover());
  // Like nats-server without a JetStream domain, $JS.<domain>.API is not served.
  api_subs_.push_back(
      subscribe("$JS.API.>", [this](const protocol::pub_frame& f, worker* w) { return handle_api(f, w); }));
  api_subs_.push_back(
      subscribe("$JS.ACK.>", [this](const protocol::pub_frame& f, worker* w) { return handle_ack(f, w); }));
  api_subs_.push_back(
      subscribe("$JS.FC.>", [this](const protocol::pub_frame& f, worker* w) { return handle_flow_control(f, w); }));
  if (timer_thread_wanted_) start_timer_thread();
  auto st = stats();
  spdlog::info("JetStream started: store {}, {} stream{} recovered ({} messages, {} bytes)", dir_, st.streams,
               st.streams == 1 ? "" : "s", st.messages, st.bytes);
  return status::ok();
}

void jetstream::start_timer_thread() {
  arm_timer();
  timer_thread_ = std::thread([this] {
    for (;;) {
      try {
        timer_io_.run();
        break;
      } catch (const std::exception& e) {
        spdlog::error("jetstream timer: unhandled exception: {}", e.what());
      }
    }
  });
}

void jetstream::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& s : api_subs_) unsubscribe(s);
  api_subs_.clear();
  timer_io_.stop();
  if (timer_thread_.joinable()) timer_thread_.join();
  std::vector<std::shared_ptr<stream>> all;
  {
    std::unique_lock lock(mu_);
    for (auto& [n, s] : streams_) all.push_back(s);
    streams_.clear();
  }
  for (auto& s : all) (void)s->close(false);  // closing reports its own errors; only a delete answers one
}

void jetstream::arm_timer() {
  timer_.expires_after(tick_every);
  timer_.async_wait([this](const std::error_code& ec) {
    if (ec || stopped_.load()) return;
    tick();
    arm_timer();
  });
}

void jetstream::wake_at(std::int64_t when_ns) {
  if (stopped_.load() || !timer_thread_wanted_) return;
  asio::post(timer_io_, [this, when_ns] {
    auto t = std::make_shared<asio::steady_timer>(timer_io_);
    t->expires_after(std::chrono::nanoseconds(std::max<std::int64_t>(when_ns - clock_.steady_ns(), 0)));
    t->async_wait([this, t](const std::error_code& ec) {
      if (!ec && !stopped_.load()) tick();
    });
  });
}

void jetstream::tick() {
  const std::int64_t wall = clock_.wall_ns(), steady = clock_.steady_ns();
  for (auto& s : streams()) s->tick(wall, steady);
}

void jetstream::report_problem(std::string what) {
  std::lock_guard lock(problems_mu_);
  if (problems_.size() < 1000) problems_.push_back(std::move(what));
}

std::vector<std::string> jetstream::problems() {
  std::lock_guard lock(problems_mu_);
  return problems_;
}

status jetstream::recover() {
  const std::filesystem::path root = std::filesystem::path(dir_) / "streams";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (!entry.is_directory() || entry.path().extension() == ".damaged") continue;
    status s;
    try {
      s = recover_stream(entry.path().string());
    } catch (const std::exception& e) {  // a field of an unexpected type in damaged metadata
      s = data_loss(std::string("damaged metadata: ") + e.what());
    }
    if (s.is_ok()) continue;
    // One damaged stream must not keep the others (and core NATS) from serving: set it aside,
    // untouched, for the operator, and say so.
    const std::string aside = entry.path().string() + ".damaged";
    std::error_code rec;
    std::filesystem::rename(entry.path(), aside, rec);
    const std::string what = "stream in " + entry.path().string() + " not recovered (" + s.message() + "); " +
                             (rec ? "could not be moved aside: " + rec.message() : "moved aside to " + aside);
    spdlog::error("JetStream: {}", what);
    report_problem(what);
  }
  if (ec) return io_error("reading " + root.string() + ": " + ec.message());
  return status::ok();
}

status jetstream::recover_stream(const std::string& dir) {
  auto meta_text = store::read_file(dir + "/meta.json");
  if (!meta_text.is_ok()) {
    spdlog::warn("JetStream: {} has no meta.json; skipped", dir);
    return status::ok();
  }
  auto meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (meta.is_discarded() || !meta.contains("config")) return data_loss("stream metadata in " + dir + " is damaged");
  auto cfg = parse_stream_config(meta["config"]);
  if (!cfg.ok()) return data_loss("stream metadata in " + dir + ": " + cfg.error().description);
  const std::int64_t created = meta.value("created", wall_ns());
  auto st = store::open_file_store(dir + "/msgs", store_options_for(cfg.value(), sync_, sync_interval_ns_, fs_));
  if (!st.is_ok()) return st.status().with_context("recovering stream " + cfg.value().name);
  auto s = std::make_shared<stream>(*this, cfg.value(), std::move(*st), created, dir);
  const std::filesystem::path consumers = std::filesystem::path(dir) / "consumers";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(consumers, ec)) {
    if (!entry.is_directory()) continue;
    const auto damaged = [&](const std::string& why) {
      const std::string what =
          "stream " + cfg.value().name + ": consumer in " + entry.path().string() + " not recovered: " + why;
      spdlog::error("JetStream: {}", what);
      report_problem(what);
    };
    auto cmeta_text = store::read_file(entry.path().string() + "/meta.json");
    if (!cmeta_text.is_ok()) {
      damaged("no meta.json");
      continue;
    }
    auto cmeta = nlohmann::json::parse(*cmeta_text, nullptr, false);
    if (cmeta.is_discarded() || !cmeta.is_object() || !cmeta.contains("config")) {
      damaged("meta.json is damaged");
      continue;
    }
    auto ccfg = parse_consumer_config(cmeta["config"]);
    if (!ccfg.ok()) {
      damaged("meta.json: " + ccfg.error().description);
      continue;
    }
    const auto created_v = cmeta.find("created");
    const std::int64_t consumer_created =
        created_v != cmeta.end() && created_v->is_number_integer() ? created_v->get<std::int64_t>() : wall_ns();
    auto state = store::read_file(entry.path().string() + "/state.rec");
    if (!state.is_ok()) state = store::read_file(entry.path().string() + "/state.json");  // before state.rec
    s->recover_consumer(ccfg.value(), consumer_created,
                        state.is_ok() ? std::optional<std::string>(*state) : std::nullopt);
  }
  // A segment cut short may have taken sequences that consumers had seen: continue after them.
  s->keep_sequences_seen();
  s->rebuild_dedup(wall_ns());
  auto state = s->info(false, "");
  if (state["state"].contains("lost")) {
    spdlog::error("JetStream: stream {} lost {} damaged message(s) in recovery (sequences listed in its info)",
                  s->name(), state["state"]["lost"]["msgs"].size());
  }
  spdlog::info("JetStream: recovered stream {} ({} messages, {} consumers)", s->name(),
               state["state"]["messages"].get<std::uint64_t>(), state["state"]["consumer_count"].get<std::uint64_t>());
  s->attach();
  std::unique_lock lock(mu_);
  streams_[s->name()] = s;
  return status::ok();
}

api_result<std::shared_ptr<stream>> jetstream::create_stream(stream_config cfg) {
  if (api_error e = normalize(cfg); !e.ok()) return e;
  std::unique_lock lock(mu_);
  if (auto it = streams_.find(cfg.name); it != streams_.end()) {
    if (it->second->config() == cfg) return it->second;
    return errors::stream_name_exists();
  }
  for (const auto& [n, other] : streams_) {
    const stream_config oc = other->config();
    for (const std::string& a : cfg.subjects) {
      for (const std::string& b : oc.subjects) {
        if (protocol::subjects_overlap(a, b)) return errors::subjects_overlap();
      }
    }
  }
  std::unique_ptr<store::message_store> st;
  std::string sdir;
  const auto opts = store_options_for(cfg, sync_, sync_interval_ns_, fs_);
  if (cfg.storage == storage_type::file) {
    sdir = dir_ + "/streams/" + cfg.name;
    // (open_file_store creates sdir with msgs/, and makes both names durable.)
    auto fs = store::open_file_store(sdir + "/msgs", opts);
    if (!fs.is_ok()) return errors::stream_invalid_config("creating the store: " + fs.status().message());
    st = std::move(*fs);
  } else {
    st = store::make_memory_store(opts);
  }
  const std::int64_t created = wall_ns();
  auto s = std::make_shared<stream>(*this, cfg, std::move(st), created, sdir);
  if (!sdir.empty()) {
    ojson meta;
    meta["config"] = to_json(cfg);
    meta["created"] = created;
    status ws = store::write_file_atomic(fs(), sdir + "/meta.json", meta.dump(2));
    if (!ws.is_ok()) return errors::stream_invalid_config("saving the stream: " + ws.message());
  }
  streams_[cfg.name] = s;
  lock.unlock();
  s->attach();
  spdlog::info("JetStream: created stream {} ({} storage)", cfg.name,
               cfg.storage == storage_type::file ? "file" : "memory");
  return s;
}

api_error jetstream::delete_stream(const std::string& name) {
  std::shared_ptr<stream> s;
  {
    std::unique_lock lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) return errors::stream_not_found();
    s = it->second;
    streams_.erase(it);
  }
  if (status st = s->close(true); !st.is_ok()) return errors::store_failure(st);
  spdlog::info("JetStream: deleted stream {}", name);
  return {};
}

std::shared_ptr<stream> jetstream::find_stream(std::string_view name) {
  std::shared_lock lock(mu_);
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<stream>> jetstream::streams() {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<stream>> out;
  out.reserve(streams_.size());
  for (auto& [n, s] : streams_) out.push_back(s);
  return out;
}

std::shared_ptr<stream> jetstream::stream_for_subject(std::string_view subject) {
  for (auto& s : streams()) {
    for (const std::string& p : s->config().subjects) {
      if (protocol::subject_matches(p, subject)) return s;
    }
  }
  return nullptr;
}

bool jetstream::handle_ack(const protocol::pub_frame& f, worker* w) {
  const auto a = protocol::parse_ack_subject(f.subject);
  if (!a) return false;
  auto s = find_stream(a->stream);
  if (!s) return false;
  bool found = false;
  {
    std::lock_guard lock(s->mutex());
    auto c = s->find_consumer_locked(std::string(a->consumer));
    if (c) {
      found = true;
      c->on_ack(a->stream_seq, a->consumer_seq, f.data.substr(f.header_size), f.reply, w);
    }
  }
  s->run_deferred(w);
  return found;
}

bool jetstream::handle_flow_control(const protocol::pub_frame& f, worker* w) {
  // $JS.FC.<stream>.<consumer>.<random>
  std::string_view t[4];
  std::size_t n = 0;
  for (protocol::tokenizer k(f.subject); !k.done() && n < 4; k.next()) t[n++] = k.token();
  if (n < 4 || protocol::count_tokens(f.subject) < 5) return false;
  auto s = find_stream(t[2]);
  if (!s) return false;
  {
    std::lock_guard lock(s->mutex());
    auto c = s->find_consumer_locked(std::string(t[3]));
    if (c) c->on_flow_control_reply(f.subject, w);
  }
  s->run_deferred(w);
  return true;
}

void jetstream::advisory(worker* w, const std::string& subject, const ojson& body) {
  host_.publish(w, subject, {}, {}, protocol::go_json(body));
}

void jetstream::reply(worker* w, std::string_view to, const ojson& body) {
  if (to.empty()) return;
  host_.publish(w, to, {}, {}, protocol::go_json(body));
}

jetstream_stats jetstream::stats() {
  jetstream_stats st;
  for (auto& s : streams()) {
    auto info = s->info(false, "");
    const auto& state = info["state"];
    ++st.streams;
    st.consumers += state["consumer_count"].get<std::uint64_t>();
    st.messages += state["messages"].get<std::uint64_t>();
    const std::uint64_t bytes = state["bytes"].get<std::uint64_t>();
    st.bytes += bytes;
    if (s->config().storage == storage_type::memory) {
      st.memory += bytes;
    } else {
      st.storage += bytes;
    }
  }
  st.api_total = api_total_.load(std::memory_order_relaxed);
  st.api_errors = api_errors_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace ferry::broker::js
