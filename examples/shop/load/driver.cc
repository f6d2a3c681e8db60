#include "driver.h"

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "ferry/message.h"

namespace shop::load {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The orders and counters both threads share.
struct shared_state {
  std::mutex mu;  // guards everything below
  std::vector<tracked_order> orders;
  std::size_t poison_sent = 0, duplicates_sent = 0;
  std::size_t post_retries = 0;  // POSTs sent again after no answer or a 5xx
  bool posting_done = false;
};

std::unique_ptr<httplib::Client> http_client(const std::string& url) {
  auto c = std::make_unique<httplib::Client>(url);
  c->set_connection_timeout(2);
  c->set_read_timeout(10);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  return c;
}

ferry::result<nlohmann::json> get_json(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path);
  if (!res) return ferry::unavailable("GET " + path + ": " + httplib::to_string(res.error()));
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || j.is_discarded())
    return ferry::unavailable("GET " + path + ": HTTP " + std::to_string(res->status) + " " + res->body);
  return j;
}

bool is_final(const tracked_order& t) { return t.status != "pending"; }

// "final 27 (confirmed 20, cancelled 7), in flight 3". REQUIRES: s.mu held.
std::string progress_text(const shared_state& s) {
  std::size_t confirmed = 0, cancelled = 0, in_flight = 0;
  for (const tracked_order& t : s.orders) {
    if (t.status == "confirmed") ++confirmed;
    if (t.status == "cancelled") ++cancelled;
    if (!t.id.empty() && !is_final(t)) ++in_flight;
  }
  return "final " + std::to_string(confirmed + cancelled) + " (confirmed " + std::to_string(confirmed) +
         ", cancelled " + std::to_string(cancelled) + "), in flight " + std::to_string(in_flight);
}

// Posts every planned order at o.rate per second, poison messages spread over the run, and
// prints a progress line every 10%.
void post_orders(const driver_options& o, broker_probe& bus, shared_state& s) {
  auto http = http_client(o.order_url);
  const auto interval = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
  auto next = clock::now();
  std::size_t next_poison = 0, last_decile = 0;
  const std::string run = ferry::new_id().substr(0, 10);  // the orders' Idempotency-Keys: <run>-<index>
  for (std::size_t i = 0; i < o.orders; ++i) {
    std::this_thread::sleep_until(next);
    next += interval;
    if (next_poison < o.poison && i >= o.orders * (next_poison + 1) / (o.poison + 1)) {
      if (ferry::status st = bus.publish_poison(next_poison); !st.is_ok()) {
        std::fprintf(stderr, "shop-load: publishing poison message %zu: %s\n", next_poison, st.to_string().c_str());
      } else {
        std::lock_guard lock(s.mu);
        ++s.poison_sent;
      }
      ++next_poison;
    }
    tracked_order t;
    t.plan = plan_order(i, o.duplicate_every);
    t.posted = clock::now();
    // A client that gets no answer (order-service killed, restarting) posts again with the same
    // Idempotency-Key, for up to 20 s: the order is stored once whatever happened to the first try.
    const httplib::Headers headers = {{"Idempotency-Key", run + "-" + std::to_string(i)}};
    const auto give_up = clock::now() + std::chrono::seconds(20);
    auto res = http->Post("/orders", headers, order_body(t.plan.request), "application/json");
    while ((!res || res->status >= 500) && clock::now() < give_up) {
      {
        std::lock_guard lock(s.mu);
        ++s.post_retries;
      }
      std::this_thread::sleep_for(milliseconds(100));
      res = http->Post("/orders", headers, order_body(t.plan.request), "application/json");
    }
    if (!res) {
      t.post_error = httplib::to_string(res.error());
    } else if (res->status != 201 && res->status != 200) {
      t.post_error = "HTTP " + std::to_string(res->status) + " " + res->body;
    } else {
      auto j = nlohmann::json::parse(res->body, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"].is_string()) {
        t.id = j["id"].get<std::string>();
      } else {
        t.post_error = "no id in " + res->body;
      }
    }
    std::lock_guard lock(s.mu);
    if (!t.post_error.empty()) std::fprintf(stderr, "shop-load: POST /orders #%zu: %s\n", i, t.post_error.c_str());
    s.orders.push_back(std::move(t));
    const std::size_t decile = (i + 1) * 10 / o.orders;
    if (decile != last_decile) {
      last_decile = decile;
      std::printf("[%3zu%%] posted %zu/%zu, %s\n", decile * 10, i + 1, o.orders, progress_text(s).c_str());
      std::fflush(stdout);
    }
  }
  std::lock_guard lock(s.mu);
  s.posting_done = true;
}

// The order.created that order-service published for the order GET /orders/{id} returned.
order_created as_event(const nlohmann::json& j) {
  order_created e;
  e.order_id = j.at("id").get<std::string>();
  e.customer = j.at("customer").get<std::string>();
  e.items = j.at("items").get<std::vector<line_item>>();
  e.amount = j.at("amount").get<double>();
  e.created_at = j.value("created_at", "");
  return e;
}

// Polls GET /orders/{id} for every order not final yet, sending the planned duplicates on the
// way, until posting is done and every order is final, or o.timeout after posting ended.
void follow_orders(const driver_options& o, broker_probe& bus, shared_state& s) {
  auto http = http_client(o.order_url);
  std::optional<clock::time_point> deadline;
  auto last_report = clock::now();
  for (;;) {
    std::vector<std::pair<std::size_t, std::string>> open;  // (index, id)
    bool done = false;
    {
      std::lock_guard lock(s.mu);
      for (const tracked_order& t : s.orders) {
        if (!t.id.empty() && (!is_final(t) || (t.plan.duplicate && !t.duplicate_sent)))
          open.emplace_back(t.plan.index, t.id);
      }
      done = s.posting_done && open.empty();
      if (s.posting_done && !deadline) deadline = clock::now() + o.timeout;
      if (s.posting_done && clock::now() - last_report > std::chrono::seconds(2) && !open.empty()) {
        last_report = clock::now();
        std::printf("       waiting for %zu orders, %s\n", open.size(), progress_text(s).c_str());
        std::fflush(stdout);
      }
    }
    if (done || (deadline && clock::now() > *deadline)) return;
    for (const auto& [index, id] : open) {
      auto j = get_json(*http, "/orders/" + id);
      if (!j.is_ok()) continue;  // order-service busy or restarting: try again next round
      const auto now = clock::now();
      std::lock_guard lock(s.mu);
      tracked_order& t = s.orders[index];
      if (!is_final(t) && j->value("status", "pending") != "pending") {
        t.status = j->value("status", "");
        t.reason = j->value("reason", "");
        t.finished = now;
      }
      if (t.plan.duplicate && !t.duplicate_sent) {
        t.duplicate_sent = true;
        if (ferry::status st = bus.publish_duplicate(as_event(*j)); st.is_ok()) {
          ++s.duplicates_sent;
        } else {
          std::fprintf(stderr, "shop-load: duplicate of %s: %s\n", id.c_str(), st.to_string().c_str());
        }
      }
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// Polls `ready` (up to `limit`) until it returns true; returns its last answer.
bool eventually(const std::function<bool()>& ready, milliseconds limit) {
  const auto end = clock::now() + limit;
  for (;;) {
    if (ready()) return true;
    if (clock::now() > end) return false;
    std::this_thread::sleep_for(milliseconds(100));
  }
}

}  // namespace

ferry::result<run_report> run_load(const driver_options& o, broker_probe& bus) {
  const auto start = clock::now();
  for (const std::string& url : {o.order_url, o.inventory_url, o.notification_url}) {
    auto http = http_client(url);
    if (!eventually([&] { return get_json(*http, "/healthz").is_ok(); }, std::chrono::seconds(20)))
      return ferry::unavailable("no service answers at " + url + "/healthz");
  }
  shared_state s;
  s.orders.reserve(o.orders);
  std::thread poster([&] { post_orders(o, bus, s); });
  follow_orders(o, bus, s);
  poster.join();

  run_report r;
  {
    std::lock_guard lock(s.mu);
    r.orders = s.orders;
    r.poison_sent = s.poison_sent;
    r.duplicates_sent = s.duplicates_sent;
    r.post_retries = s.post_retries;
  }
  r.poison_planned = o.poison;
  for (const tracked_order& t : r.orders) r.duplicates_planned += !t.id.empty() && t.plan.duplicate ? 1 : 0;
  std::size_t finals = 0;
  for (const tracked_order& t : r.orders) finals += is_final(t) ? 1 : 0;

  // The side effects settle a little after the last order is final: wait for them.
  auto inventory = http_client(o.inventory_url);
  auto notification = http_client(o.notification_url);
  eventually(
      [&] {
        auto j = get_json(*inventory, "/stats");
        if (!j.is_ok()) return false;
        r.inventory = *j;
        return r.inventory["counters"].value("duplicates_suppressed", std::int64_t{0}) >=
                   static_cast<std::int64_t>(r.duplicates_sent) &&
               r.inventory["reservations"].value("reserved", std::int64_t{0}) == 0 &&
               r.inventory["sagas"].value("running", std::int64_t{0}) == 0 &&
               r.inventory["sagas"].value("compensating", std::int64_t{0}) == 0 &&
               r.inventory["outbox"].value("pending", std::int64_t{0}) == 0;
      },
      std::chrono::seconds(15));
  auto order_service = http_client(o.order_url);
  eventually(
      [&] {
        auto j = get_json(*order_service, "/stats");
        if (!j.is_ok()) return false;
        r.order = *j;
        return r.order["outbox"].value("pending", std::int64_t{0}) == 0;
      },
      std::chrono::seconds(15));
  eventually(
      [&] {
        auto j = get_json(*notification, "/stats");
        if (!j.is_ok()) return false;
        r.notification = *j;
        return r.notification.value("confirmed", std::int64_t{0}) +
                   r.notification.value("cancelled", std::int64_t{0}) >=
               static_cast<std::int64_t>(finals);
      },
      std::chrono::seconds(15));
  eventually(
      [&] {
        auto d = bus.dead_letters();
        if (!d.is_ok()) return false;
        r.dead_letters = std::move(d).value();
        return r.dead_letters.size() >= r.poison_sent;
      },
      std::chrono::seconds(15));
  r.elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - start);
  return r;
}

}  // namespace shop::load
