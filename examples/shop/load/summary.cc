// The summary shop-load prints at the end, and the checks behind its exit status.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "driver.h"

namespace shop::load {

namespace {

// The nearest-rank percentile `p` (0-100) of sorted `v`; 0 when empty.
double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// j[a][b] (or j[a]) as an integer; 0 when missing.
std::int64_t int_at(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  if (!j.is_object() || !j.contains(a)) return 0;
  const nlohmann::json* v = &j[a];
  if (b != nullptr) v = v->is_object() && v->contains(b) ? &(*v)[b] : nullptr;
  return v != nullptr && v->is_number_integer() ? v->get<std::int64_t>() : 0;
}

// What the driver saw of the orders.
struct tally {
  std::size_t posted = 0, confirmed = 0, cancelled = 0;
  std::map<std::string, std::size_t> reasons;           // cancelled, per reason
  std::map<std::string, std::int64_t> confirmed_items;  // per sku
  std::int64_t confirmed_total = 0;                     // items of confirmed orders
  std::vector<double> latency_ms;                       // POST to final, sorted
  std::vector<std::string> unexpected;                  // orders that ended otherwise than planned
  [[nodiscard]] std::size_t finals() const { return confirmed + cancelled; }
};

tally count_orders(const run_report& r) {
  tally t;
  for (const tracked_order& o : r.orders) {
    if (o.id.empty()) continue;
    ++t.posted;
    if (o.status == "pending") continue;
    t.latency_ms.push_back(std::chrono::duration<double, std::milli>(o.finished - o.posted).count());
    if (o.status == "confirmed") {
      ++t.confirmed;
      for (const line_item& i : o.plan.request.items) {
        t.confirmed_items[i.sku] += i.qty;
        t.confirmed_total += i.qty;
      }
    } else {
      ++t.cancelled;
      ++t.reasons[o.reason];
    }
    if (o.status != o.plan.expected_status || o.reason != o.plan.expected_reason) {
      t.unexpected.push_back("order " + o.id + " is " + o.status + " (" + o.reason + "), the rules say " +
                             o.plan.expected_status + " (" + o.plan.expected_reason + ")");
    }
  }
  std::sort(t.latency_ms.begin(), t.latency_ms.end());
  return t;
}

// The stock check: the inventory's own invariant holds, nothing is still held, and for every sku
// the stock taken equals the items of the orders the driver saw confirmed (an order reserved
// twice would take more). Sets `taken_total`.
bool stock_consistent(const nlohmann::json& inventory, const tally& t, std::int64_t& taken_total) {
  bool ok = inventory.value("consistent", false) && int_at(inventory, "reservations", "reserved") == 0;
  taken_total = 0;
  if (!inventory.contains("stock")) return false;
  for (const auto& [sku, v] : inventory["stock"].items()) {
    const std::int64_t taken = v.value("initial", std::int64_t{0}) - v.value("available", std::int64_t{0});
    taken_total += taken;
    const auto it = t.confirmed_items.find(sku);
    ok = ok && taken == (it == t.confirmed_items.end() ? 0 : it->second);
  }
  return ok;
}

// Collects failed checks.
struct checks {
  std::vector<std::string> failed;
  void expect(bool ok, std::string what) {
    if (!ok) failed.push_back(std::move(what));
  }
};

std::string str(std::int64_t n) { return std::to_string(n); }

}  // namespace

bool print_summary(const run_report& r, std::FILE* out) {
  const tally t = count_orders(r);
  checks c;
  c.expect(t.posted == r.orders.size(), str(r.orders.size() - t.posted) + " POST /orders failed");
  c.expect(t.finals() == t.posted, str(t.posted - t.finals()) + " orders never reached a final state (lost)");
  for (std::size_t i = 0; i < std::min<std::size_t>(t.unexpected.size(), 5); ++i) c.failed.push_back(t.unexpected[i]);
  c.expect(t.unexpected.size() <= 5, str(t.unexpected.size()) + " orders in all ended otherwise than the rules say");

  c.expect(r.poison_sent == r.poison_planned,
           str(r.poison_sent) + " of " + str(r.poison_planned) + " poison messages could be published");
  // Dead-lettering is at least once: a service killed after it published a dead letter and before
  // it acked the poison message gets it again and dead-letters it again. Each poison kind has its
  // own reason, so the distinct reasons count the poison messages; the poison messages are a
  // quarter of the run apart, so the one crash of inventory-service can copy one of them at most.
  std::set<std::string> distinct_reasons;
  for (const auto& d : r.dead_letters) distinct_reasons.insert(d.reason);
  c.expect(distinct_reasons.size() == r.poison_sent && r.dead_letters.size() >= r.poison_sent &&
               r.dead_letters.size() <= r.poison_sent + 1,
           str(r.dead_letters.size()) + " dead letters with " + str(distinct_reasons.size()) +
               " distinct reasons for " + str(r.poison_sent) + " poison messages");
  for (const auto& d : r.dead_letters) {
    c.expect(d.origin == subject::order_created && d.reason.rfind("invalid_argument: ", 0) == 0,
             "dead letter on " + d.subject + " from '" + d.origin + "' with reason '" + d.reason +
                 "' (want order.created, invalid_argument: ...)");
  }

  const std::int64_t suppressed = int_at(r.inventory, "counters", "duplicates_suppressed");
  c.expect(r.duplicates_sent == r.duplicates_planned,
           str(r.duplicates_sent) + " of " + str(r.duplicates_planned) + " duplicates could be published");
  c.expect(suppressed >= static_cast<std::int64_t>(r.duplicates_sent) && (r.duplicates_sent == 0 || suppressed > 0),
           str(suppressed) + " duplicates suppressed for " + str(r.duplicates_sent) + " sent");

  std::int64_t taken_total = 0;
  const bool stock_ok = stock_consistent(r.inventory, t, taken_total);
  c.expect(stock_ok,
           "stock inconsistent: items taken differ from items confirmed (inventory: " + r.inventory.dump() + ")");
  std::int64_t reservations = 0;
  if (r.inventory.contains("reservations")) {
    for (const auto& [state, n] : r.inventory["reservations"].items()) reservations += n.get<std::int64_t>();
  }
  // One reservation per order that got its stock: the saga's reserve step fails for an order out of
  // stock, and a failed step leaves no writes.
  const auto out_of_stock = t.reasons.count(std::string(reason::out_of_stock)) != 0
                                ? t.reasons.at(std::string(reason::out_of_stock))
                                : std::size_t{0};
  c.expect(
      reservations == static_cast<std::int64_t>(t.posted - out_of_stock),
      str(reservations) + " reservations for " + str(t.posted) + " orders (" + str(out_of_stock) + " out of stock)");

  const std::int64_t sagas_completed = int_at(r.inventory, "sagas", "completed");
  const std::int64_t sagas_compensated = int_at(r.inventory, "sagas", "compensated");
  const std::int64_t sagas_stuck = int_at(r.inventory, "sagas", "stuck");
  c.expect(sagas_completed + sagas_compensated == static_cast<std::int64_t>(t.posted) && sagas_stuck == 0,
           "sagas: " + str(sagas_completed) + " completed + " + str(sagas_compensated) + " compensated for " +
               str(t.posted) + " orders, " + str(sagas_stuck) + " stuck");
  const std::int64_t order_pending = int_at(r.order, "outbox", "pending");
  const std::int64_t inventory_pending = int_at(r.inventory, "outbox", "pending");
  c.expect(order_pending == 0 && inventory_pending == 0, "outbox rows never relayed: " + str(order_pending) +
                                                             " at order-service, " + str(inventory_pending) +
                                                             " at inventory-service");

  const std::int64_t notified_ok = int_at(r.notification, "confirmed");
  const std::int64_t notified_ko = int_at(r.notification, "cancelled");
  c.expect(
      notified_ok == static_cast<std::int64_t>(t.confirmed) && notified_ko == static_cast<std::int64_t>(t.cancelled),
      "notifications (" + str(notified_ok) + " confirmed, " + str(notified_ko) + " cancelled) differ from the orders");

  std::string reasons;
  for (const auto& [why, n] : t.reasons) reasons += (reasons.empty() ? "" : ", ") + why + " " + str(n);
  std::map<std::string, std::size_t> dl_reasons;
  std::map<std::string, std::size_t> dl_subjects;  // dlq.<service>: a stream's subject or a Kafka topic
  for (const auto& d : r.dead_letters) {
    ++dl_reasons[d.reason];
    ++dl_subjects[d.subject];
  }
  std::string where;
  for (const auto& [s, n] : dl_subjects) where += (where.empty() ? "on " : ", ") + s;

  std::fprintf(out, "\n== summary (%.1f s)\n", static_cast<double>(r.elapsed.count()) / 1000.0);
  std::fprintf(out, "   orders posted:          %zu  (+ %zu poison messages, %zu duplicate deliveries)\n", t.posted,
               r.poison_sent, r.duplicates_sent);
  std::fprintf(out, "   confirmed:              %zu\n", t.confirmed);
  std::fprintf(out, "   cancelled:              %zu  (%s)\n", t.cancelled, reasons.c_str());
  std::fprintf(out, "   dead letters:           %zu%s\n", r.dead_letters.size(),
               where.empty() ? "" : ("  (" + where + ")").c_str());
  for (const auto& [why, n] : dl_reasons) std::fprintf(out, "                           %zu x %s\n", n, why.c_str());
  std::fprintf(out, "   duplicates suppressed:  %lld  (inventory: re-published copies and redeliveries)\n",
               static_cast<long long>(suppressed));
  std::fprintf(out, "   notifications sent:     %lld confirmed, %lld cancelled (%lld duplicates ignored)\n",
               static_cast<long long>(notified_ok), static_cast<long long>(notified_ko),
               static_cast<long long>(int_at(r.notification, "duplicates")));
  std::fprintf(out,
               "   sagas:                  %lld completed, %lld compensated (%lld payment timeouts fired here), %lld "
               "stuck\n",
               static_cast<long long>(sagas_completed), static_cast<long long>(sagas_compensated),
               static_cast<long long>(int_at(r.inventory, "sagas_since_start", "timeouts")),
               static_cast<long long>(sagas_stuck));
  std::fprintf(out,
               "   outbox:                 %lld + %lld events relayed since the services last started, %lld + %lld "
               "pending (order, inventory); %zu POSTs retried\n",
               static_cast<long long>(int_at(r.order, "outbox", "published")),
               static_cast<long long>(int_at(r.inventory, "outbox", "published")),
               static_cast<long long>(order_pending), static_cast<long long>(inventory_pending), r.post_retries);
  std::fprintf(out, "   latency POST -> final:  p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", percentile(t.latency_ms, 50),
               percentile(t.latency_ms, 99), t.latency_ms.empty() ? 0.0 : t.latency_ms.back());
  std::fprintf(out,
               "   nothing lost:           %zu/%zu orders reached a final state; stock %s: %lld items taken == %lld "
               "items confirmed\n",
               t.finals(), t.posted, stock_ok ? "consistent" : "INCONSISTENT", static_cast<long long>(taken_total),
               static_cast<long long>(t.confirmed_total));
  if (c.failed.empty()) {
    std::fprintf(out, "   result:                 every check passed\n");
    return true;
  }
  for (const std::string& f : c.failed) std::fprintf(out, "   FAILED: %s\n", f.c_str());
  return false;
}

}  // namespace shop::load
