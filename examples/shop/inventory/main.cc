// shop-inventory: inventory-service. Runs the order saga (ferry/saga.h) for each order.created:
//
//   reserve (local: take the stock; out of stock fails the step)       undo: release the stock
//   charge  (command payment.charge to payment-service, a reply on      undo: payment.refund, only
//            saga.order.reply; no reply within --payment-timeout         when the charge timed out
//            fails the step)                                             (it may have happened)
//   confirm (local: the reservation becomes confirmed)
//   end:    order.confirmed, or order.cancelled with the reason (out of stock, payment declined,
//           payment timeout), through the outbox
//
// Each transition commits the stock, the saga's state, its timer and the messages it sends
// together (SQLite, <data>/inventory.db); order.created is consumed through an inbox, and a
// duplicate order (a saga for it exists) is counted and acked. Kill the service at any point:
// each saga resumes where it stood, its deadline still set.
//
// With --payment-grpc TARGET the charge is a gRPC call instead: the saga's command goes to
// payment.charge.grpc (still through the outbox, so a crash loses nothing), and a handler of this
// service takes it, calls payment-service's Charge (proto/payment.proto) and publishes the saga
// reply itself. The call carries the command's trace and correlation id (ferry::grpc): one trace
// runs from order.created through the call into payment-service. A call past its deadline sends
// no reply (the saga's timeout decides, as for a command nobody answers); payment-service
// unreachable retries the command. Refunds stay commands on the bus.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <map>

#include "bus.h"
#include "codec.h"
#include "ferry/grpc.h"
#include "ferry/outbox.h"
#include "ferry/saga.h"
#include "inventory_store.h"
#include "payment_rules.h"
#include "proto/payment.grpc.pb.h"
#include "service.h"

namespace {

constexpr std::string_view source = "/shop/inventory";

// Parses "sku=qty" items into a stock map; throws CLI::ValidationError on a malformed one.
std::map<std::string, std::int64_t> parse_stock(const std::vector<std::string>& items) {
  std::map<std::string, std::int64_t> stock;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    std::int64_t qty = -1;
    if (eq != std::string::npos && eq > 0) {
      try {
        qty = std::stoll(item.substr(eq + 1));
      } catch (const std::exception&) {
        qty = -1;
      }
    }
    if (qty < 0) throw CLI::ValidationError("--stock", "expected sku=qty with qty >= 0, got '" + item + "'");
    stock[item.substr(0, eq)] = qty;
  }
  return stock;
}

shop::order_created order_of(const ferry::saga_instance& s) { return s.data.at("order").get<shop::order_created>(); }

// The saga's command to payment-service (subject `subject`), carrying the order's trace.
ferry::message payment_command(std::string_view subject, const ferry::saga_instance& s) {
  const shop::order_created o = order_of(s);
  ferry::message m = shop::make_event(
      subject, shop::charge_request{.order_id = o.order_id, .customer = o.customer, .amount = o.amount}, source);
  if (auto tp = s.data.find("traceparent"); tp != s.data.end()) {
    m.headers.set(std::string(ferry::header::traceparent), tp->get<std::string>());
  }
  m.headers.set(std::string(ferry::header::correlation_id), o.order_id);
  return m;
}

// The reason an order saga was compensated, from where it failed.
std::string cancel_reason(const ferry::saga_instance& s) {
  if (auto r = s.data.find("reason"); r != s.data.end()) return r->get<std::string>();
  if (s.error.find("timed out") != std::string::npos) return std::string(shop::reason::payment_timeout);
  return std::string(shop::reason::payment_declined);
}

// The charge step's command goes to `charge_subject`: payment.charge (payment-service takes it), or
// payment.charge.grpc (this service's gRPC bridge takes it).
ferry::saga_definition order_saga(shop::inventory_store& store, const ferry::outbox& box,
                                  std::chrono::milliseconds payment_timeout, std::string_view charge_subject) {
  ferry::saga_definition d{.type = "order", .reply_subject = std::string(shop::subject::saga_reply)};
  d.steps.push_back({
      .name = "reserve",
      .local = [&store](ferry::sql::transaction& tx, ferry::saga_instance& s) -> ferry::status {
        const shop::order_created o = order_of(s);
        FERRY_ASSIGN_OR_RETURN(shop::reservation r, store.reserve(tx, o.order_id, o.items));
        if (r.state == shop::reservation_state::rejected) {
          s.data["reason"] = std::string(shop::reason::out_of_stock);
          return ferry::failed_precondition("out of stock");
        }
        spdlog::info("order {}: reserved {} items [trace {}]", o.order_id, o.items.size(), shop::current_trace_id());
        return ferry::status::ok();
      },
      .compensate_local = [&store](ferry::sql::transaction& tx, ferry::saga_instance& s) -> ferry::status {
        FERRY_ASSIGN_OR_RETURN(std::string state, store.release(tx, s.id));
        spdlog::info("order {}: stock released ({}) [trace {}]", s.id, state, shop::current_trace_id());
        return ferry::status::ok();
      },
  });
  d.steps.push_back({
      .name = "charge",
      .command = [charge_subject](const ferry::saga_instance& s) { return payment_command(charge_subject, s); },
      .compensate_command =
          [](const ferry::saga_instance& s) { return payment_command(shop::subject::payment_refund, s); },
      .on_reply =
          [](ferry::saga_instance& s, const ferry::message& reply) {
            auto r = shop::read_event<shop::charge_reply>(reply);
            if (r.is_ok()) s.data["payment_id"] = r->payment_id;
          },
      .timeout = payment_timeout,
  });
  d.steps.push_back({
      .name = "confirm",
      .local = [&store](ferry::sql::transaction& tx, ferry::saga_instance& s) -> ferry::status {
        return store.confirm(tx, s.id, s.data.value("payment_id", "")).status();
      },
  });
  d.on_end = [&box](ferry::sql::transaction& tx, ferry::saga_instance& s) -> ferry::status {
    const shop::order_created o = order_of(s);
    ferry::message out;
    if (s.status == ferry::saga_status::completed) {
      out = shop::make_event(
          shop::subject::order_confirmed,
          shop::order_confirmed{
              .order_id = o.order_id, .payment_id = s.data.value("payment_id", ""), .amount = o.amount},
          source);
      spdlog::info("order {}: confirmed [trace {}]", o.order_id, shop::current_trace_id());
    } else if (s.status == ferry::saga_status::compensated) {
      const std::string why = cancel_reason(s);
      out = shop::make_event(shop::subject::order_cancelled,
                             shop::order_cancelled{.order_id = o.order_id, .reason = why}, source);
      spdlog::info("order {}: cancelled ({}) [trace {}]", o.order_id, why, shop::current_trace_id());
    } else {
      return ferry::status::ok();  // stuck: logged by the orchestrator; the order stays pending
    }
    out.key = o.customer;
    if (auto tp = s.data.find("traceparent"); tp != s.data.end()) {
      out.headers.set(std::string(ferry::header::traceparent), tp->get<std::string>());
    }
    return box.add(tx, std::move(out));
  };
  return d;
}

// The gRPC bridge: takes a charge command, calls Charge, answers the saga as payment-service would.
ferry::handler grpc_charge_handler(shop::payment::v1::Payment::Stub& payment, std::chrono::milliseconds call_timeout) {
  return [&payment, call_timeout](ferry::message& m) -> ferry::outcome {
    if (!m.headers.contains(ferry::header::saga_reply_to))
      return ferry::outcome::drop(ferry::invalid_argument("payment.charge.grpc without a saga reply subject"));
    auto req = shop::read_event<shop::charge_request>(m);
    if (!req.is_ok()) return ferry::outcome::drop(req.status());
    shop::payment::v1::ChargeRequest call;
    call.set_order_id(req->order_id);
    call.set_customer(req->customer);
    call.set_amount(req->amount);
    shop::payment::v1::ChargeReply answer;
    auto ctx = ferry::grpc::call_context(m, call_timeout);
    const ::grpc::Status s = payment.Charge(ctx.get(), call, &answer);
    if (s.error_code() == ::grpc::StatusCode::DEADLINE_EXCEEDED) {
      spdlog::info(
          "order {}: Charge over gRPC got no answer within its deadline; no reply, the saga's timeout decides "
          "[trace {}]",
          req->order_id, shop::current_trace_id());
      return ferry::status::ok();
    }
    if (!s.ok()) {
      ferry::status why = ferry::grpc::to_status(s).with_context("Charge over gRPC");
      if (ferry::grpc::outcome_of(s.error_code()) == "retry") return ferry::outcome::retry(std::move(why));
      return ferry::outcome::drop(std::move(why));
    }
    const shop::charge_reply reply{.order_id = req->order_id,
                                   .approved = answer.approved(),
                                   .payment_id = answer.payment_id(),
                                   .reason = answer.reason()};
    ferry::message event = shop::make_event("-", reply, source);
    ferry::message out = ferry::saga_reply(m, reply.approved, std::move(event.payload), reply.reason);
    for (const auto& [name, value] : event.headers) out.headers.set(name, value);
    return std::vector{std::move(out)};
  };
}

}  // namespace

int main(int argc, char** argv) {
  shop::service_options o{.name = "inventory"};
  std::vector<std::string> stock_items{"sku-book=100000", "sku-pen=100000", "sku-mug=100000", "sku-gold=5"};
  std::size_t concurrency = 4;
  int payment_timeout_ms = 5'000;
  std::string payment_grpc;
  int payment_call_timeout_ms = 2'000;
  CLI::App app(
      "shop-inventory: runs the order saga for each order.created: reserves the stock, has payment-service\n"
      "charge it (a saga command and its reply), confirms, or compensates (refund, release) and emits\n"
      "order.confirmed or order.cancelled.");
  shop::add_common_flags(app, o);
  app.add_option("--stock", stock_items, "Initial stock as sku=qty (repeat); used for skus the database lacks")
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "Messages handled at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--payment-timeout", payment_timeout_ms,
                 "Milliseconds the saga waits for payment-service's answer before it cancels the order")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  app.add_option("--payment-grpc", payment_grpc,
                 "Charge through payment-service's gRPC API at this target (host:port) instead of its "
                 "payment.charge command");
  app.add_option("--payment-call-timeout", payment_call_timeout_ms,
                 "Milliseconds one Charge call over gRPC may take (with --payment-grpc); below the command's "
                 "ack wait (5 s)")
      ->check(CLI::Range(10, 4'000))
      ->capture_default_str();
  std::map<std::string, std::int64_t> stock;
  try {
    app.parse(argc, argv);
    stock = parse_stock(stock_items);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto svc = shop::service::create(o);
  if (!svc.is_ok()) {
    spdlog::error("shop-inventory: {}", svc.status().to_string());
    return 1;
  }
  shop::service& s = **svc;
  auto db = ferry::sql::open("sqlite:" + s.data_path("inventory.db"), {.pool_size = 8});
  auto store = db.is_ok() ? shop::inventory_store::open(*db.value(), stock) : db.status();
  auto box = db.is_ok() ? ferry::outbox::open(*db.value()) : db.status();
  auto in = db.is_ok() ? ferry::inbox::open(*db.value(), {.consumer = "inventory"}) : db.status();
  if (!store.is_ok() || !box.is_ok() || !in.is_ok()) {
    spdlog::error("opening the database: {} {} {}", store.status().to_string(), box.status().to_string(),
                  in.status().to_string());
    return 1;
  }
  shop::inventory_store& st = **store;
  ferry::saga_orchestrator sagas(*db.value(), box.value());
  const std::string_view charge_subject =
      payment_grpc.empty() ? shop::subject::payment_charge : shop::subject::payment_charge_grpc;
  if (ferry::status d =
          sagas.define(order_saga(st, box.value(), std::chrono::milliseconds(payment_timeout_ms), charge_subject));
      !d.is_ok()) {
    spdlog::error("defining the order saga: {}", d.to_string());
    return 1;
  }
  // A stable name: restarted after a crash, the relay takes its SQLite lease back at once.
  ferry::outbox_relay relay(*db.value(), *s.bus().streams, {.name = o.name});
  if (ferry::status started = relay.start(); !started.is_ok()) {
    spdlog::error("starting the outbox relay: {}", started.to_string());
    return 1;
  }
  if (ferry::status started = sagas.start_timers(); !started.is_ok()) {
    spdlog::error("starting the saga timers: {}", started.to_string());
    return 1;
  }
  s.at_stop([&] {
    sagas.stop();
    relay.stop();
  });
  s.add_metrics([&] { return relay.prometheus_text() + sagas.prometheus_text(); });

  // With --payment-grpc: payment-service's gRPC API (the channel connects on the first call).
  std::unique_ptr<shop::payment::v1::Payment::Stub> payment;
  if (!payment_grpc.empty()) {
    payment = shop::payment::v1::Payment::NewStub(
        ferry::grpc::make_channel(payment_grpc, {.tracer = &s.tracer(), .metrics = &s.metrics()}));
  }
  ferry::router r(*s.bus().streams);
  s.use_standard_middleware(r);
  ferry::handler_options orders{
      .name = "start-order-saga",
      .subject = std::string(shop::subject::order_created),
      .group = "inventory",
      .concurrency = concurrency,
      .middleware = s.handler_middleware(),
      .subscription = {.max_in_flight = 64, .ack_wait = std::chrono::seconds(5)},
  };
  ferry::status added =
      r.add_handler(std::move(orders), in->wrap([&](ferry::sql::transaction& tx, ferry::message& m) -> ferry::outcome {
        auto order = shop::read_event<shop::order_created>(m);
        if (order.is_ok() && (order->order_id.empty() || order->items.empty()))
          order = ferry::invalid_argument("order.created without an order id or items");
        if (!order.is_ok()) {
          spdlog::warn("poison order.created (stream seq {}): {}", m.delivery.stream_sequence,
                       order.status().message());
          return ferry::outcome::drop(order.status());
        }
        nlohmann::json data{{"order", *order}};
        if (std::string tp = ferry::current_traceparent(); !tp.empty()) data["traceparent"] = tp;
        ferry::status started = sagas.start(tx, "order", order->order_id, std::move(data));
        if (started.code() == ferry::status_code::already_exists) {
          spdlog::info("order {}: duplicate order.created, its saga exists; counted and acked [trace {}]",
                       order->order_id, shop::current_trace_id());
          return shop::inventory_store::count(tx, "duplicates_suppressed");
        }
        return started;
      }));
  ferry::handler_options replies{
      .name = "order-saga-replies",
      .subject = std::string(shop::subject::saga_reply),
      .group = std::string(shop::group::saga_replies),
      .concurrency = concurrency,
      .middleware = s.handler_middleware(),
      .subscription = {.ack_wait = std::chrono::seconds(5)},
  };
  if (added.is_ok()) added = r.add_handler(std::move(replies), sagas.reply_handler());
  if (added.is_ok() && payment) {
    spdlog::info("charging through payment-service's gRPC API at {}", payment_grpc);
    added = r.add_handler(
        {
            .name = "charge-over-grpc",
            .subject = std::string(shop::subject::payment_charge_grpc),
            .group = std::string(shop::group::grpc_charges),
            .concurrency = concurrency,
            .middleware = s.handler_middleware(),
            .subscription = {.ack_wait = std::chrono::seconds(5)},
        },
        grpc_charge_handler(*payment, std::chrono::milliseconds(payment_call_timeout_ms)));
  }
  if (!added.is_ok()) {
    spdlog::error("adding the handlers: {}", added.to_string());
    return 1;
  }
  return s.run(r, [&] {
    auto stats = st.stats();
    if (!stats.is_ok()) throw std::runtime_error(stats.status().to_string());
    nlohmann::json j(*stats);
    // Instances per status from the table (they survive a restart); this process's counters beside.
    auto by_status = sagas.count_by_status();
    if (!by_status.is_ok()) throw std::runtime_error(by_status.status().to_string());
    const ferry::saga_stats ss = sagas.stats();
    j["sagas"] = *by_status;
    j["sagas_since_start"] = {{"steps", ss.steps}, {"timeouts", ss.timeouts}, {"ignored_replies", ss.ignored_replies}};
    const ferry::outbox_relay_stats rs = relay.stats();
    j["outbox"] = {{"published", rs.published}, {"publish_failures", rs.failures}, {"pending", rs.pending.rows}};
    return j;
  });
}
