// ferry::grpc: the client and server interceptors, call contexts and status conversions (see
// include/ferry/grpc.h).
#include <grpcpp/create_channel.h>
#include <grpcpp/security/server_credentials.h>

#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "ferry/grpc.h"

namespace ferry::grpc {

namespace {

using clock = std::chrono::steady_clock;
using ::grpc::experimental::InterceptionHookPoints;

// The call a server method runs for on this thread (set by the server interceptor).
struct served_call {
  std::string correlation_id;
  std::chrono::system_clock::time_point deadline;
};
thread_local const served_call* current_call = nullptr;

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}.
std::pair<std::string, std::string> split_method(std::string_view full) {
  if (!full.empty() && full.front() == '/') full.remove_prefix(1);
  const std::size_t slash = full.rfind('/');
  if (slash == std::string_view::npos) return {std::string(full), std::string()};
  return {std::string(full.substr(0, slash)), std::string(full.substr(slash + 1))};
}

// What both sides keep of one call: its span (when traced), its metrics, its start.
class call_record {
 public:
  call_record(const options& o, span_kind kind, std::string_view method, const char* metrics_side)
      : o_(o), kind_(kind), method_(method) {
    if (o_.metrics) {
      m_ = &o_.metrics->handler(std::string(metrics_side) + " " + method_);
      m_->received.fetch_add(1, std::memory_order_relaxed);
      m_->in_flight.fetch_add(1, std::memory_order_relaxed);
    }
  }
  ~call_record() {
    if (!ended_) end(::grpc::Status(::grpc::StatusCode::CANCELLED, "the call ended without a status"));
  }
  call_record(const call_record&) = delete;
  call_record& operator=(const call_record&) = delete;

  // Starts the span as a child of `parent` (when given) and returns the context to send on or to
  // make current: the new span's, or `parent` itself when spans are off.
  std::optional<span_context> start(const span_context* parent, std::string correlation_id) {
    if (!o_.tracer) return parent ? std::optional<span_context>(*parent) : std::nullopt;
    auto [service, method] = split_method(method_);
    span_ = o_.tracer->start(service + "/" + method, parent);
    span_->kind = kind_;
    span_->system = "grpc";
    span_->rpc_service = std::move(service);
    span_->rpc_method = std::move(method);
    span_->correlation_id = std::move(correlation_id);
    return span_context{span_->trace_id, span_->span_id, parent ? parent->flags : std::uint8_t{1},
                        parent ? parent->tracestate : std::string()};
  }

  void end(const ::grpc::Status& s) {
    if (ended_) return;
    ended_ = true;
    const std::string_view outcome = outcome_of(s.error_code());
    if (m_) {
      m_->in_flight.fetch_sub(1, std::memory_order_relaxed);
      m_->record(outcome, clock::now() - start_);
    }
    if (span_) {
      span_->rpc_status_code = static_cast<int>(s.error_code());
      span_->outcome = s.ok() ? "ok" : "error";
      if (!s.ok()) span_->error = to_status(s);
      o_.tracer->finish(std::move(*span_));
      span_.reset();
    }
  }

 private:
  const options& o_;
  const span_kind kind_;
  const std::string method_;
  metrics_registry::handler_metrics* m_ = nullptr;
  std::optional<span> span_;
  const clock::time_point start_ = clock::now();
  bool ended_ = false;
};

class client_side final : public ::grpc::experimental::Interceptor {
 public:
  client_side(const options& o, const char* method) : call_(o, span_kind::client, method, "grpc client") {}

  void Intercept(::grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      auto* md = m->GetSendInitialMetadata();
      auto cid = md->find(std::string(correlation_id_key));
      if (cid == md->end() && current_call && !current_call->correlation_id.empty())
        cid = md->emplace(std::string(correlation_id_key), current_call->correlation_id);
      // A traceparent the caller put on the context itself wins over the thread's span.
      std::optional<span_context> parent;
      if (auto tp = md->find(std::string(traceparent_key)); tp != md->end()) {
        parent = parse_traceparent(tp->second);
        md->erase(tp);
      } else if (const span_context* c = current_span_context()) {
        parent = *c;
      }
      const auto sent = call_.start(parent ? &*parent : nullptr, cid == md->end() ? std::string() : cid->second);
      if (sent) {
        md->emplace(std::string(traceparent_key), format_traceparent(*sent));
        if (!sent->tracestate.empty() && md->find(std::string(tracestate_key)) == md->end())
          md->emplace(std::string(tracestate_key), sent->tracestate);
      }
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) call_.end(*m->GetRecvStatus());
    m->Proceed();
  }

 private:
  call_record call_;
};

class server_side final : public ::grpc::experimental::Interceptor {
 public:
  server_side(const options& o, ::grpc::experimental::ServerRpcInfo* info)
      : info_(info), call_(o, span_kind::server, info->method(), "grpc server") {}
  ~server_side() override { leave(); }

  void Intercept(::grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto* md = m->GetRecvInitialMetadata();
      auto value = [md](std::string_view key) -> std::optional<std::string> {
        auto it = md->find(::grpc::string_ref(key.data(), key.size()));
        if (it == md->end()) return std::nullopt;
        return std::string(it->second.data(), it->second.size());
      };
      std::optional<span_context> parent;
      if (auto tp = value(traceparent_key)) parent = parse_traceparent(*tp);
      if (parent)
        if (auto ts = value(tracestate_key)) parent->tracestate = *ts;
      served_.correlation_id = value(correlation_id_key).value_or("");
      served_.deadline = info_->server_context()->deadline();
      mine_ = call_.start(parent ? &*parent : nullptr, served_.correlation_id);
      enter();
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      leave();
      call_.end(m->GetSendStatus());
    }
    m->Proceed();
  }

 private:
  // Makes the call current on this thread; leave() undoes it on the same thread only.
  void enter() {
    if (entered_) return;
    entered_ = true;
    thread_ = std::this_thread::get_id();
    outer_span_ = exchange_current_span(mine_ ? &*mine_ : nullptr);
    outer_call_ = std::exchange(current_call, &served_);
  }
  void leave() {
    if (!entered_ || thread_ != std::this_thread::get_id() || current_call != &served_) return;
    entered_ = false;
    exchange_current_span(outer_span_);
    current_call = outer_call_;
  }

  ::grpc::experimental::ServerRpcInfo* info_;
  call_record call_;
  served_call served_;
  std::optional<span_context> mine_;
  bool entered_ = false;
  std::thread::id thread_;
  const span_context* outer_span_ = nullptr;
  const served_call* outer_call_ = nullptr;
};

class client_factory final : public ::grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit client_factory(options o) : o_(o) {}
  ::grpc::experimental::Interceptor* CreateClientInterceptor(::grpc::experimental::ClientRpcInfo* info) override {
    return new client_side(o_, info->method());
  }

 private:
  const options o_;
};

class server_factory final : public ::grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit server_factory(options o) : o_(o) {}
  ::grpc::experimental::Interceptor* CreateServerInterceptor(::grpc::experimental::ServerRpcInfo* info) override {
    return new server_side(o_, info);
  }

 private:
  const options o_;
};

std::unique_ptr<::grpc::ClientContext> make_context(std::chrono::system_clock::time_point deadline,
                                                    std::string correlation_id) {
  if (current_call) {
    deadline = std::min(deadline, current_call->deadline);
    if (correlation_id.empty()) correlation_id = current_call->correlation_id;
  }
  auto ctx = std::make_unique<::grpc::ClientContext>();
  ctx->set_deadline(deadline);
  if (!correlation_id.empty()) ctx->AddMetadata(std::string(correlation_id_key), correlation_id);
  return ctx;
}

}  // namespace

std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface> client_interceptor(options o) {
  return std::make_unique<client_factory>(o);
}

std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface> server_interceptor(options o) {
  return std::make_unique<server_factory>(o);
}

std::shared_ptr<::grpc::Channel> make_channel(const std::string& target, options o,
                                              std::shared_ptr<::grpc::ChannelCredentials> credentials) {
  std::vector<std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(client_interceptor(o));
  return ::grpc::experimental::CreateCustomChannelWithInterceptors(
      target, credentials ? std::move(credentials) : ::grpc::InsecureChannelCredentials(), ::grpc::ChannelArguments(),
      std::move(interceptors));
}

void add_server_interceptor(::grpc::ServerBuilder& builder, options o) {
  std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(server_interceptor(o));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

std::unique_ptr<::grpc::ClientContext> call_context(std::chrono::milliseconds timeout) {
  return make_context(std::chrono::system_clock::now() + timeout, {});
}

std::unique_ptr<::grpc::ClientContext> call_context(const message& cause, std::chrono::milliseconds timeout) {
  const auto now = std::chrono::system_clock::now();
  auto deadline = now + timeout;
  if (cause.deadline != clock::time_point::max()) {
    const auto left = std::chrono::duration_cast<std::chrono::system_clock::duration>(cause.deadline - clock::now());
    deadline = std::min(deadline, now + left);
  }
  return make_context(deadline, cause.headers.value_or(header::correlation_id, ""));
}

std::string current_correlation_id() { return current_call ? current_call->correlation_id : std::string(); }

ferry::status to_status(const ::grpc::Status& s) {
  using G = ::grpc::StatusCode;
  status_code c = status_code::internal;
  switch (s.error_code()) {
    case G::OK:
      return status::ok();
    case G::CANCELLED:
      c = status_code::cancelled;
      break;
    case G::INVALID_ARGUMENT:
    case G::OUT_OF_RANGE:
      c = status_code::invalid_argument;
      break;
    case G::DEADLINE_EXCEEDED:
      c = status_code::deadline_exceeded;
      break;
    case G::NOT_FOUND:
      c = status_code::not_found;
      break;
    case G::ALREADY_EXISTS:
      c = status_code::already_exists;
      break;
    case G::PERMISSION_DENIED:
      c = status_code::permission_denied;
      break;
    case G::UNAUTHENTICATED:
      c = status_code::unauthenticated;
      break;
    case G::RESOURCE_EXHAUSTED:
      c = status_code::resource_exhausted;
      break;
    case G::FAILED_PRECONDITION:
      c = status_code::failed_precondition;
      break;
    case G::ABORTED:
    case G::UNAVAILABLE:
      c = status_code::unavailable;
      break;
    case G::UNIMPLEMENTED:
      c = status_code::unimplemented;
      break;
    case G::DATA_LOSS:
      c = status_code::data_loss;
      break;
    default:
      c = status_code::internal;
      break;  // UNKNOWN, INTERNAL
  }
  return {c, s.error_message()};
}

::grpc::Status to_grpc_status(const ferry::status& s) {
  using G = ::grpc::StatusCode;
  G c = G::INTERNAL;
  switch (s.code()) {
    case status_code::ok:
      return ::grpc::Status::OK;
    case status_code::invalid_argument:
      c = G::INVALID_ARGUMENT;
      break;
    case status_code::not_found:
      c = G::NOT_FOUND;
      break;
    case status_code::already_exists:
      c = G::ALREADY_EXISTS;
      break;
    case status_code::permission_denied:
      c = G::PERMISSION_DENIED;
      break;
    case status_code::unauthenticated:
      c = G::UNAUTHENTICATED;
      break;
    case status_code::resource_exhausted:
      c = G::RESOURCE_EXHAUSTED;
      break;
    case status_code::failed_precondition:
      c = G::FAILED_PRECONDITION;
      break;
    case status_code::unavailable:
      c = G::UNAVAILABLE;
      break;
    case status_code::deadline_exceeded:
      c = G::DEADLINE_EXCEEDED;
      break;
    case status_code::data_loss:
      c = G::DATA_LOSS;
      break;
    case status_code::cancelled:
      c = G::CANCELLED;
      break;
    case status_code::unimplemented:
      c = G::UNIMPLEMENTED;
      break;
    case status_code::io_error:
    case status_code::internal:
      c = G::INTERNAL;
      break;
  }
  return {c, s.message()};
}

std::string_view outcome_of(::grpc::StatusCode code) {
  switch (code) {
    case ::grpc::StatusCode::OK:
      return "ack";
    case ::grpc::StatusCode::UNAVAILABLE:
    case ::grpc::StatusCode::DEADLINE_EXCEEDED:
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED:
    case ::grpc::StatusCode::ABORTED:
      return "retry";
    default:
      return "drop";
  }
}

}  // namespace ferry::grpc
