// The JetStream transport (include/ferry/jetstream.h): stream subjects go through JetStream,
// every other subject through NATS core (the same connection).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/close_gate.h"
#include "base/subject_check.h"
#include "ferry/jetstream.h"
#include "transport/jetstream/pull_source.h"
#include "transport/jetstream/streams.h"
#include "transport/nats/client.h"
#include "transport/nats/core_source.h"

namespace ferry::jetstream {
namespace {

using detail::js_context;
using nats::detail::client;

// Collects the failures of one batch of asynchronous publishes (nats.c calls back on its thread).
struct async_errors {
  std::mutex mu;
  status first;  // guarded by mu: the first failure other than "no responders"
  // Guarded by mu: the Nats-Msg-Id of each message nobody answered for (no stream leader at that
  // moment: an election, a restarting server), published again one by one.
  std::set<std::string> unanswered;
};

void on_async_publish_error(jsCtx*, jsPubAckErr* pae, void* closure) {
  auto* errs = static_cast<async_errors*>(closure);
  std::lock_guard lock(errs->mu);
  const char* id = nullptr;
  if (pae->Err == NATS_NO_RESPONDERS && natsMsgHeader_Get(pae->Msg, header::message_id.data(), &id) == NATS_OK &&
      id != nullptr) {
    errs->unanswered.insert(id);
    return;
  }
  if (errs->first.is_ok()) {
    errs->first = detail::from_js(pae->Err, pae->ErrCode,
                                  std::string("publishing on '") + natsMsg_GetSubject(pae->Msg) + "'" +
                                      (pae->ErrText != nullptr ? std::string(": ") + pae->ErrText : ""));
  }
}

class jetstream_transport final : public transport {
 public:
  jetstream_transport(std::shared_ptr<js_context> ctx, options o, std::vector<detail::bound_stream> streams)
      : ctx_(std::move(ctx)), opts_(std::move(o)), streams_(std::move(streams)) {}
  ~jetstream_transport() override { close(); }

  [[nodiscard]] capabilities caps() const override {
    return {.persistent = true,
            .consumer_groups = true,
            .per_key_order = false,  // a group's members share one consumer with no key affinity
            .delayed_delivery = true,
            .request_reply = true,
            .redelivery = true,
            .delivery_count = true,
            .wildcards = true,
            .no_responders = true};
  }
  [[nodiscard]] std::string_view name() const override { return "jetstream"; }

  status publish(message m) override {
    FERRY_RETURN_IF_ERROR(ctx_->client->check_open("publish"));
    status err;
    if (detail::stream_for(streams_, m.subject, &err) == nullptr) {
      if (!err.is_ok()) return err;
      return ctx_->client->publish(m);  // not a stream subject: NATS core
    }
    if (m.id.empty()) m.id = new_id();
    return publish_stored(m, clock::now() + opts_.publish_timeout);
  }

  // Several at once: asynchronous publishes, then one wait for every PubAck.
  status publish(std::vector<message> ms) override {
    FERRY_RETURN_IF_ERROR(ctx_->client->check_open("publish"));
    if (ms.size() < 2) return transport::publish(std::move(ms));
    for (const message& m : ms) {
      if (detail::stream_for(streams_, m.subject, nullptr) == nullptr) return transport::publish(std::move(ms));
    }
    async_errors errs;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.ErrHandler = on_async_publish_error;
    jo.PublishAsync.ErrHandlerClosure = &errs;
    jo.PublishAsync.MaxPending = 4096;
    jsCtx* js = nullptr;
    natsStatus s = natsConnection_JetStream(&js, ctx_->client->conn(), &jo);
    if (s != NATS_OK) return nats::detail::from_nats(s, "JetStream context");
    status first;
    for (message& m : ms) {
      if (m.id.empty()) m.id = new_id();
      auto msg = nats::detail::to_nats(m);
      if (!msg.is_ok()) {
        first = msg.status();
        break;
      }
      natsMsg* raw = msg->release();
      s = js_PublishMsgAsync(js, &raw, nullptr);
      if (raw != nullptr) natsMsg_Destroy(raw);  // not taken by the library
      if (s != NATS_OK) {
        first = ctx_->client->closed_or("publish", nats::detail::from_nats(s, "publishing on '" + m.subject + "'"));
        break;
      }
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = opts_.publish_timeout.count();
    s = js_PublishAsyncComplete(js, &po);
    jsCtx_Destroy(js);
    // The unanswered ones get publish_timeout of their own: waiting for the others' PubAcks may
    // have taken most of the first.
    const auto give_up = clock::now() + opts_.publish_timeout;
    if (!first.is_ok()) return first;
    std::set<std::string> unanswered;
    {
      std::lock_guard lock(errs.mu);
      if (!errs.first.is_ok()) return ctx_->client->closed_or("publish", errs.first);
      unanswered.swap(errs.unanswered);
    }
    FERRY_RETURN_IF_ERROR(ctx_->client->closed_or("publish", nats::detail::from_nats(s, "waiting for the PubAcks")));
    // In the batch's order, each after the batch's other messages (a batch is not atomic).
    for (const message& m : ms) {
      if (unanswered.contains(m.id)) FERRY_RETURN_IF_ERROR(publish_stored(m, give_up));
    }
    return status::ok();
  }

  status flush(std::chrono::milliseconds timeout) override { return ctx_->client->flush(timeout); }

 private:
  using clock = std::chrono::steady_clock;

  // Publishes `m` (id set) to its stream and waits for the PubAck until `give_up`. "No responders"
  // means no server answers for the stream at this moment (a leader election, a server that is
  // restarting and has not loaded it yet): published again after a short wait until `give_up`,
  // as nats.go does; the same Nats-Msg-Id makes a retry that was stored after all count once.
  status publish_stored(const message& m, clock::time_point give_up) {
    auto wait = std::chrono::milliseconds(25);
    for (;;) {
      auto msg = nats::detail::to_nats(m);
      if (!msg.is_ok()) return msg.status();
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = std::max<std::int64_t>(
          1, std::chrono::duration_cast<std::chrono::milliseconds>(give_up - clock::now()).count());
      jsPubAck* ack = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      const natsStatus s = js_PublishMsg(&ack, ctx_->js, msg->get(), &po, &code);
      if (ack != nullptr) jsPubAck_Destroy(ack);
      if (s != NATS_NO_RESPONDERS || clock::now() + wait >= give_up || !ctx_->client->check_open("publish").is_ok()) {
        status out = detail::from_js(s, code, "publishing on '" + m.subject + "'");
        if (s == NATS_NO_RESPONDERS) {
          out = status(out.code(), out.message() +
                                       " (no server answered for the stream until publish_timeout: "
                                       "a leader election that takes longer, or a stream that is gone)");
        }
        return ctx_->client->closed_or("publish", std::move(out));
      }
      std::this_thread::sleep_for(wait);
      wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::milliseconds(250));
    }
  }

 public:
  result<std::unique_ptr<subscription>> subscribe(std::string subject, subscription_options options,
                                                  delivery_callback callback) override {
    FERRY_RETURN_IF_ERROR(ctx_->client->check_open("subscribe"));
    FERRY_RETURN_IF_ERROR(check_subject(subject, subject_use::subscribe));
    status err;
    const detail::bound_stream* stream = detail::stream_for(streams_, subject, &err);
    if (!err.is_ok()) return err;
    callback = ::ferry::detail::scoped_callback(static_cast<const transport*>(this), std::move(callback));
    if (stream == nullptr) {
      return nats::detail::subscribe_core(ctx_->client, "jetstream", std::move(subject), options, std::move(callback),
                                          loops_);
    }
    return detail::subscribe_pull(ctx_, opts_, *stream, std::move(subject), options, std::move(callback), loops_);
  }

  // A NATS core request: the subject must be outside the streams (a stream would answer with its
  // PubAck).
  result<message> request(message m, std::chrono::milliseconds timeout) override {
    FERRY_RETURN_IF_ERROR(ctx_->client->check_open("request"));  // closed first, whatever the subject
    if (const auto* s = detail::stream_for(streams_, m.subject, nullptr); s != nullptr) {
      return invalid_argument("request subject '" + m.subject + "' is captured by stream " + s->name +
                              "; requests travel on NATS core subjects");
    }
    return ctx_->client->request(std::move(m), timeout);
  }

  void close() override {
    if (!close_->begin(::ferry::detail::callback_scope::inside(static_cast<const transport*>(this)))) return;
    ctx_->client->refuse_calls();  // first: nothing new while the subscriptions stop and the flush runs
    loops_.stop_all();
    (void)ctx_->client->flush(std::chrono::seconds(5));
    ctx_->client->close();
    ::ferry::detail::close_gate::finish(close_, static_cast<const transport*>(this));
  }

 private:
  const std::shared_ptr<js_context> ctx_;
  const options opts_;
  const std::vector<detail::bound_stream> streams_;
  nats::detail::loop_registry loops_;
  const std::shared_ptr<::ferry::detail::close_gate> close_ = std::make_shared<::ferry::detail::close_gate>();
};

}  // namespace

result<std::unique_ptr<transport>> connect(const std::string& url, options o) {
  auto c = client::connect(url, o.connection);
  if (!c.is_ok()) return c.status();
  auto ctx = std::make_shared<js_context>();
  ctx->client = std::move(*c);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = std::max<std::int64_t>(o.publish_timeout.count(), 1000);
  natsStatus s = natsConnection_JetStream(&ctx->js, ctx->client->conn(), &jo);
  if (s != NATS_OK) return nats::detail::from_nats(s, "JetStream context");
  auto streams = detail::setup_streams(ctx->js, o);
  if (!streams.is_ok()) return streams.status();
  return std::unique_ptr<transport>(
      std::make_unique<jetstream_transport>(std::move(ctx), std::move(o), std::move(*streams)));
}

}  // namespace ferry::jetstream
