#include "transport/jetstream/pull_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>

#include "transport/jetstream/ledger.h"

namespace ferry::jetstream::detail {

namespace {

using nats::detail::in_flight_gate;
using nats::detail::msg_ptr;

constexpr std::string_view transport_name = "jetstream";

std::int64_t to_ns(std::chrono::milliseconds d) { return d.count() * 1'000'000; }

// Settles one JetStream delivery by publishing on its ack subject (fire and forget: a lost ack
// means a redelivery after AckWait, which at-least-once allows).
class js_settler final : public settler {
 public:
  // `last_try`: the server delivers it no more after a nack (max_deliver reached).
  js_settler(std::shared_ptr<in_flight_gate> g, std::shared_ptr<nats::detail::client> c, std::string ack_subject,
             std::shared_ptr<ledger> l, std::uint64_t seq, bool last_try)
      : gate_(std::move(g)),
        client_(std::move(c)),
        ack_(std::move(ack_subject)),
        ledger_(std::move(l)),
        seq_(seq),
        last_try_(last_try) {}
  void ack() override {
    if (ledger_ && seq_ != 0) ledger_->settled(seq_);
    send("+ACK", true);
  }
  void nack(std::chrono::milliseconds delay) override {
    if (ledger_ && seq_ != 0 && last_try_) ledger_->given_up(seq_);
    send(delay.count() > 0 ? "-NAK {\"delay\":" + std::to_string(to_ns(delay)) + "}" : std::string("-NAK"), true);
  }
  // nats-server 2.9 takes only a bare +TERM (a reason is 2.10.4+): the reason stays with the
  // dead-letter middleware.
  void term(std::string_view) override {
    if (ledger_ && seq_ != 0) ledger_->settled(seq_);
    send("+TERM", true);
  }
  void in_progress() override { send("+WPI", false); }

 private:
  void send(const std::string& body, bool final) {
    if (status s = client_->publish_raw(ack_, body); !s.is_ok())
      spdlog::debug("jetstream: ack lost: {}", s.to_string());
    if (final) gate_->release();
  }
  const std::shared_ptr<in_flight_gate> gate_;
  const std::shared_ptr<nats::detail::client> client_;
  const std::string ack_;
  const std::shared_ptr<ledger> ledger_;
  const std::uint64_t seq_;  // 0: unknown (no metadata)
  const bool last_try_;
};

// Makes the natsSubscription of a pull consumer; `start_seq` 0 delivers everything, otherwise
// from that stream sequence on (a consumer made again after the broker lost it). Gives up asking
// again once `*stopping` is set (nullptr: never).
using make_sub_fn =
    std::function<result<natsSubscription*>(std::uint64_t start_seq, const std::atomic<bool>* stopping)>;

class pull_source final : public nats::detail::delivery_loop::source {
 public:
  pull_source(std::shared_ptr<js_context> ctx, natsSubscription* sub, make_sub_fn remake, std::uint32_t max_deliver)
      : ctx_(std::move(ctx)), sub_(sub), remake_(std::move(remake)), max_deliver_(max_deliver) {}
  ~pull_source() override { natsSubscription_Destroy(sub_); }

  bool next(std::size_t max, std::chrono::milliseconds wait, const std::shared_ptr<in_flight_gate>& gate,
            std::vector<message>& out) override {
    natsSubscription* sub = current();
    if (sub == nullptr) return false;
    natsMsgList list{};
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s =
        natsSubscription_Fetch(&list, sub, static_cast<int>(max), std::max<std::int64_t>(wait.count(), 1), &code);
    if (s != NATS_OK) {
      natsMsgList_Destroy(&list);
      if (s != NATS_TIMEOUT)
        spdlog::debug("jetstream: fetch on '{}': {}", natsSubscription_GetSubject(sub), natsStatus_GetText(s));
      // Quiet or failing for a while: is the consumer still there? (A broker restart loses
      // ephemeral consumers on ferryd; an inactive one expires.)
      if (++idle_ % 8 == 0) check_consumer(sub);
      return s == NATS_TIMEOUT;
    }
    idle_ = 0;
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* raw = list.Msgs[i];
      message m = nats::detail::from_nats(raw);
      const std::string ack = m.reply;
      m.reply.clear();  // the ack subject is the transport's business
      m.delivery.transport = transport_name;
      jsMsgMetaData* meta = nullptr;
      std::uint64_t seq = 0;
      bool last_try = false;
      if (natsMsg_GetMetaData(&meta, raw) == NATS_OK) {
        seq = meta->Sequence.Stream;
        last_try = max_deliver_ > 0 && meta->NumDelivered >= max_deliver_;
        m.delivery.delivery_count = meta->NumDelivered;
        m.delivery.stream_sequence = meta->Sequence.Stream;
        m.delivery.redelivered = meta->NumDelivered > 1;
        m.delivery.published = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(meta->Timestamp)));
        last_seq_ = std::max(last_seq_, meta->Sequence.Stream);
        jsMsgMetaData_Destroy(meta);
      }
      if (seq != 0 && !ledger_->delivered(seq)) {
        // Settled before a consumer made again delivered it once more: acked, not handled twice.
        (void)ctx_->client->publish_raw(ack, "+ACK");
        continue;
      }
      m.attach(std::make_unique<js_settler>(gate, ctx_->client, ack, ledger_, seq, last_try));
      out.push_back(std::move(m));
    }
    natsMsgList_Destroy(&list);
    return true;
  }

  // Ends a pending Fetch. A bound durable stays on the server; an ephemeral is deleted.
  void interrupt() override {
    stopping_.store(true);  // a consumer being made again stops asking
    std::lock_guard lock(mu_);
    stopped_ = true;
    natsSubscription_Unsubscribe(sub_);
  }

 private:
  natsSubscription* current() {
    std::lock_guard lock(mu_);
    return stopped_ ? nullptr : sub_;
  }

  // Makes the consumer again, from the lowest sequence not yet acknowledged, if the server no
  // longer has it (only from the loop thread).
  void check_consumer(natsSubscription* sub) {
    if (natsConnection_Status(ctx_->client->conn()) != NATS_CONN_STATUS_CONNECTED) return;
    jsConsumerInfo* ci = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_GetConsumerInfo(&ci, sub, nullptr, &code);
    if (ci != nullptr) jsConsumerInfo_Destroy(ci);
    if (s != NATS_NOT_FOUND) return;
    const std::uint64_t from = ledger_->restart_at(last_seq_);
    auto fresh = remake_(from, &stopping_);
    if (!fresh.is_ok()) {
      spdlog::warn("jetstream: the consumer of '{}' is gone and could not be made again: {}",
                   natsSubscription_GetSubject(sub), fresh.status().to_string());
      return;
    }
    spdlog::info(
        "jetstream: the consumer of '{}' was gone; made again from stream sequence {} (the lowest one "
        "not yet acknowledged)",
        natsSubscription_GetSubject(sub), from);
    natsSubscription* old = nullptr;
    {
      std::lock_guard lock(mu_);
      if (stopped_) {
        old = *fresh;
      } else {
        old = sub_;
        sub_ = *fresh;
      }
    }
    natsSubscription_Destroy(old);
  }

  const std::shared_ptr<js_context> ctx_;
  std::mutex mu_;          // guards sub_ and stopped_ (interrupt runs on other threads)
  natsSubscription* sub_;  // replaced only by the loop thread
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};  // set with stopped_, read without the lock
  const make_sub_fn remake_;
  const std::uint64_t max_deliver_;  // the consumer's MaxDeliver (0: unlimited)
  const std::shared_ptr<ledger> ledger_ = std::make_shared<ledger>();
  std::uint64_t last_seq_ = 0;  // loop thread only
  std::uint64_t idle_ = 0;      // loop thread only: fetches in a row that brought nothing
};

bool valid_group_name(const std::string& g) {
  for (char c : g) {
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t' || c == '/' || c == '\\') return false;
  }
  return !g.empty();
}

void fill_config(jsConsumerConfig& cfg, const subscription_options& so, std::uint64_t start_seq) {
  jsConsumerConfig_Init(&cfg);
  cfg.AckPolicy = js_AckExplicit;
  cfg.DeliverPolicy = start_seq == 0 ? js_DeliverAll : js_DeliverByStartSequence;
  cfg.OptStartSeq = start_seq;
  cfg.AckWait = to_ns(so.ack_wait);
  if (so.max_deliver > 0) cfg.MaxDeliver = so.max_deliver;
}

// One try at a subscription's natsSubscription: it, or why not and whether asking again may help.
struct attempt {
  natsSubscription* sub = nullptr;
  status failure;  // ok with `sub`
  bool retry = false;
};

// Creates the group's durable consumer unless it exists (with the same filter). Sets `retry` when
// it failed only for want of an answer.
status ensure_durable(jsCtx* js, const bound_stream& stream, const std::string& subject, const subscription_options& so,
                      std::uint64_t start_seq, bool& retry) {
  retry = false;
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, js, stream.name.c_str(), so.group.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    const std::string filter =
        ci->Config != nullptr && ci->Config->FilterSubject != nullptr ? ci->Config->FilterSubject : "";
    jsConsumerInfo_Destroy(ci);
    if (filter != subject) {
      return failed_precondition("group '" + so.group + "' already consumes '" + filter + "' of stream " + stream.name +
                                 ", not '" + subject + "'");
    }
    return status::ok();
  }
  jsConsumerConfig cfg;
  fill_config(cfg, so, start_seq);
  cfg.Durable = so.group.c_str();
  cfg.FilterSubject = subject.c_str();
  cfg.MaxAckPending = static_cast<std::int64_t>(std::max<std::size_t>(so.max_in_flight * 16, 1000));
  code = static_cast<jsErrCode>(0);
  s = js_AddConsumer(&ci, js, stream.name.c_str(), &cfg, nullptr, &code);
  if (ci != nullptr) jsConsumerInfo_Destroy(ci);
  if (s == NATS_OK) return status::ok();
  // Another member may have created it meanwhile (or this request, whose answer timed out).
  jsErrCode info_code = static_cast<jsErrCode>(0);
  if (js_GetConsumerInfo(&ci, js, stream.name.c_str(), so.group.c_str(), nullptr, &info_code) == NATS_OK) {
    jsConsumerInfo_Destroy(ci);
    return status::ok();
  }
  retry = no_answer_yet(s, code);
  return from_js(s, code, "creating consumer " + so.group + " on stream " + stream.name);
}

// Binds to the group's durable consumer, made first where missing, or without a group makes an
// ephemeral consumer (deliver all) and binds to it.
attempt bind_consumer(const js_context& ctx, const options& o, const bound_stream& stream, const std::string& subject,
                      const subscription_options& so, std::uint64_t start_seq) {
  attempt a;
  jsSubOptions sub_opts;
  jsSubOptions_Init(&sub_opts);
  sub_opts.Stream = stream.name.c_str();
  sub_opts.ManualAck = true;
  const char* durable = nullptr;
  if (!so.group.empty()) {
    if (status s = ensure_durable(ctx.js, stream, subject, so, start_seq, a.retry); !s.is_ok()) {
      a.failure = std::move(s);
      return a;
    }
    durable = so.group.c_str();
    sub_opts.Consumer = durable;
  } else {
    fill_config(sub_opts.Config, so, start_seq);
    sub_opts.Config.MaxAckPending = static_cast<std::int64_t>(so.max_in_flight);
    sub_opts.Config.InactiveThreshold = to_ns(o.inactive_threshold);
  }
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_PullSubscribe(&a.sub, ctx.js, subject.c_str(), durable, nullptr, &sub_opts, &code);
  if (s == NATS_OK) return a;
  a.sub = nullptr;
  // In a cluster the server that answers the bind's lookup may not know yet of a consumer that
  // was just created (by this call or by another member at the same moment), and says "consumer
  // not found" (10014; seen once in 30 runs of ten members joining one group at once). An
  // ephemeral consumer whose creation timed out may exist unused: the server removes it after
  // inactive_threshold.
  a.retry = no_answer_yet(s, code) || (durable != nullptr && code == JSConsumerNotFoundErr);
  a.failure = from_js(s, code, "subscribing to '" + subject + "' on stream " + stream.name);
  return a;
}

}  // namespace

result<std::unique_ptr<subscription>> subscribe_pull(const std::shared_ptr<js_context>& ctx, const options& o,
                                                     const bound_stream& stream, std::string subject,
                                                     const subscription_options& so, delivery_callback cb,
                                                     nats::detail::loop_registry& loops) {
  if (so.max_in_flight == 0) return invalid_argument("max_in_flight must be at least 1");
  if (!cb) return invalid_argument("subscribe needs a callback");
  if (!so.group.empty() && !valid_group_name(so.group)) {
    return invalid_argument("group '" + so.group + "' is not a valid consumer name");
  }
  // While JetStream cannot answer (see no_answer_yet) or, for a group, has not applied the
  // consumer's creation everywhere yet, asks again (25 ms doubling to 250 ms) until
  // setup_timeout, unless the transport closes or the subscription stops meanwhile.
  make_sub_fn make = [ctx, o, stream, subject, so](std::uint64_t start_seq,
                                                   const std::atomic<bool>* stopping) -> result<natsSubscription*> {
    natsSubscription* sub = nullptr;
    FERRY_RETURN_IF_ERROR(ask_until_answered(
        o,
        [&](bool& retry) {
          attempt a = bind_consumer(*ctx, o, stream, subject, so, start_seq);
          sub = a.sub;
          retry = a.retry;
          return a.failure;
        },
        [&] { return (stopping == nullptr || !stopping->load()) && ctx->client->check_open("subscribe").is_ok(); }));
    return sub;
  };
  auto sub = make(0, nullptr);
  if (!sub.is_ok()) return sub.status();
  auto loop = std::make_shared<nats::detail::delivery_loop>(
      subject, std::make_unique<pull_source>(ctx, *sub, std::move(make), so.max_deliver), std::move(cb),
      so.max_in_flight, o.fetch_batch, ctx->client->opts().poll_interval);
  loop->start();
  if (!loops.add(loop)) {  // the transport's close() ran meanwhile
    loop->stop();
    return failed_precondition("subscribe after the transport was closed");
  }
  return std::unique_ptr<subscription>(std::make_unique<nats::detail::loop_subscription>(std::move(loop)));
}

}  // namespace ferry::jetstream::detail
