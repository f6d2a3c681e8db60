// Differential JetStream test, consumers: see js_differential_test.cc for the approach and
// js_harness.h for the masks.
#include <gtest/gtest.h>

#include "js_harness.h"

namespace ferry::test::jsdiff {
namespace {

using namespace std::chrono_literals;

// ORDERS with 6 messages on orders.a/b/c (seq 3 carries headers), seq 2 deleted.
void fill_consumer_orders(recorder& r) {
  r.req("$JS.API.STREAM.CREATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"]})");
  r.req("orders.a", "one");
  r.req("orders.b", "two");
  r.hreq("orders.c", {"X-Trace: t1"}, "three");
  r.req("orders.a", "four");
  r.req("orders.b", "five");
  r.req("orders.a", "six");
  r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":2})");
}

std::string durable(const std::string& stream, const std::string& name, const std::string& extra) {
  return R"({"stream_name":")" + stream + R"(","config":{"durable_name":")" + name + "\"" +
         (extra.empty() ? "" : "," + extra) + "}}";
}

TEST(JsDifferential, ConsumerCreate) {
  compare([](recorder& r) {
    fill_consumer_orders(r);
    const std::string dc = "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.";
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"explicit")"));
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"explicit")"));
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"explicit","ack_wait":5000000000,"max_deliver":3)"));
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"none")"));
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"explicit","deliver_subject":"push.d1")"));
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"explicit","filter_subject":"orders.a")"));
    r.req(dc + "D1", durable("ORDERS", "D1", R"("ack_policy":"explicit","deliver_policy":"last")"));
    r.req(dc + "D2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit"}})");
    r.req(dc + "D2", durable("ORDERS", "X", ""));
    r.req(dc + "D3", durable("ORDERS", "D3", ""));
    r.req(dc + "D4", durable("ORDERS", "D4", R"("name":"OTHER")"));
    r.req(dc + "D5", durable("OTHER", "D5", ""));
    r.req(dc + "D5", R"({"config":{"durable_name":"D5"}})");
    r.req(dc + "D5", R"({"stream_name":"ORDERS"})");
    r.req(dc + "D5", R"({"stream_name":"ORDERS","config":{}})");
    r.req(dc + "D5", "");
    r.req(dc + "D5", "{bad");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.NOPE.D6", durable("NOPE", "D6", ""));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.A.B", durable("ORDERS", "A.B", ""), 500ms);
    r.req(dc + "A*B", durable("ORDERS", "A*B", ""));
    const std::string cc = "$JS.API.CONSUMER.CREATE.ORDERS";
    r.req(cc, durable("ORDERS", "E1", ""));
    r.req(cc + ".N1", R"({"stream_name":"ORDERS","config":{"name":"N1","ack_policy":"explicit"}})");
    r.req(cc + ".N2", R"({"stream_name":"ORDERS","config":{"name":"OTHER","ack_policy":"explicit"}})");
    r.req(cc + ".N3", R"({"stream_name":"ORDERS","config":{"durable_name":"N3","ack_policy":"explicit"}})");
    r.req(cc + ".N4", R"({"stream_name":"ORDERS","config":{"durable_name":"X","ack_policy":"explicit"}})");
    r.req(cc + ".N5", R"({"stream_name":"ORDERS","config":{"durable_name":"N5","name":"N5"}})");
    r.req(cc + ".F1.orders.a", R"({"stream_name":"ORDERS","config":{"name":"F1","filter_subject":"orders.a"}})");
    r.req(cc + ".F2.orders.a", R"({"stream_name":"ORDERS","config":{"name":"F2","filter_subject":"orders.b"}})");
    r.req(cc + ".F3.orders.a", R"({"stream_name":"ORDERS","config":{"name":"F3"}})");
    r.req(cc + ".F4.orders.*", R"({"stream_name":"ORDERS","config":{"name":"F4","filter_subject":"orders.*"}})");
    r.req(
        cc + ".N3",
        R"({"stream_name":"ORDERS","action":"create","config":{"durable_name":"N3","ack_policy":"explicit","max_deliver":7}})");
    r.req(cc + ".N6",
          R"({"stream_name":"ORDERS","action":"update","config":{"durable_name":"N6","ack_policy":"explicit"}})");
    r.req(cc + ".N7", R"({"stream_name":"ORDERS","action":"bogus","config":{"durable_name":"N7"}})");
    auto bad = [&](const std::string& name, const std::string& cfg) {
      r.req(cc + "." + name, R"({"stream_name":"ORDERS","config":{"durable_name":")" + name + "\"," + cfg + "}}");
    };
    bad("B1", R"("filter_subject":"other.x")");
    bad("B2", R"("deliver_subject":"push.b2","max_waiting":5)");
    bad("B3", R"("deliver_subject":"push.*")");
    bad("B4", R"("deliver_subject":"orders.loop")");
    bad("B5", R"("idle_heartbeat":1000000000)");
    bad("B6", R"("flow_control":true)");
    bad("B7", R"("deliver_subject":"push.b7","flow_control":true)");
    bad("B8", R"("deliver_subject":"push.b8","idle_heartbeat":50000000)");
    bad("B9", R"("deliver_policy":"by_start_sequence")");
    bad("B10", R"("deliver_policy":"all","opt_start_seq":3)");
    bad("B11", R"("deliver_policy":"by_start_time")");
    bad("B12", R"("ack_policy":"explicit","backoff":[1000000000,2000000000],"max_deliver":2)");
    bad("B13", R"("ack_policy":"none","max_ack_pending":5)");
    bad("B14", R"("ack_policy":"bogus")");
    bad("B15", R"("max_waiting":-1)");
    bad("B16",
        R"("deliver_policy":"by_start_sequence","opt_start_seq":3,"ack_policy":"all","max_ack_pending":5,"ack_wait":2000000000,"max_deliver":4,"replay_policy":"instant","description":"hello","sample_freq":"50%","max_batch":10,"max_expires":3000000000,"max_bytes":1000,"headers_only":true,"inactive_threshold":9000000000)");
    bad("B17", R"("deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.123Z")");
    bad("B18",
        R"("deliver_subject":"push.b18","deliver_group":"q","ack_policy":"explicit","idle_heartbeat":1000000000,"flow_control":true,"rate_limit_bps":1000000)");
    bad("B19", R"("deliver_policy":"last_per_subject","filter_subject":"orders.a")");
    bad("B20", R"("ack_wait":-5)");
    bad("B21", R"("backoff":[100000000,200000000])");
    bad("B22", R"("deliver_subject":"push.b22","max_batch":5,"max_expires":1000000000,"max_bytes":100)");
    bad("B23", R"("rate_limit_bps":1000)");
    bad("B24", R"("max_batch":-1)");
    bad("B25", R"("max_expires":500000)");
    bad("B26", R"("description":")" + std::string(4097, 'd') + "\"");
    bad("B27", R"("sample_freq":"abc")");
    bad("B28", R"("num_replicas":2)");
    bad("B29", R"("num_replicas":-1)");
    bad("B30", R"("deliver_subject":"push.b30","ack_policy":"none","max_ack_pending":5)");
    bad("B31", R"("deliver_policy":"last_per_subject")");
    bad("B32", R"("deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05Z","opt_start_seq":2)");
    bad("B33", R"("ack_policy":"explicit","backoff":[1000000000,2000000000],"max_deliver":3)");
    r.req(dc + "A/B", durable("ORDERS", "A/B", ""));
    r.req(cc + ".A\\B", R"({"stream_name":"ORDERS","config":{"name":"A\\B"}})");
    r.req(cc, R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","num_replicas":2}})");
    r.req(cc, R"({"stream_name":"ORDERS","config":5})");
    r.req(cc, R"({"stream_name":5,"config":{}})");
    // Updates nats-server refuses, in checkNewConsumerConfig's order.
    r.req(dc + "D3", durable("ORDERS", "D3", R"("replay_policy":"original")"));
    r.req(dc + "D3", durable("ORDERS", "D3", R"("max_waiting":10)"));
    r.req(dc + "D3", durable("ORDERS", "D3", R"("deliver_policy":"by_start_sequence","opt_start_seq":2)"));
    r.req(dc + "D3", durable("ORDERS", "D3", R"("max_ack_pending":20,"description":"updated","max_deliver":9)"));
    r.req(dc + "B17",
          durable("ORDERS", "B17", R"("deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.123Z")"));
    r.req(dc + "B17",
          durable("ORDERS", "B17",
                  R"("deliver_policy":"by_start_time","opt_start_time":"2020-01-02T03:04:05.123Z","max_deliver":5)"));
    r.req(
        dc + "B18",
        durable(
            "ORDERS", "B18",
            R"("deliver_subject":"push.b18x","deliver_group":"q","ack_policy":"explicit","idle_heartbeat":1000000000,"flow_control":true,"rate_limit_bps":1000000)"));
    r.req(
        dc + "B18",
        durable(
            "ORDERS", "B18",
            R"("deliver_subject":"push.b18x","ack_policy":"explicit","idle_heartbeat":2000000000,"flow_control":true)"));
    r.req(dc + "B18",
          durable("ORDERS", "B18", R"("ack_policy":"explicit","idle_heartbeat":1000000000,"flow_control":true)"));
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", "");
    r.req("$JS.API.CONSUMER.LIST.ORDERS", R"({"offset":20})");
  });
}

TEST(JsDifferential, ConsumerInfoNamesListDelete) {
  compare([](recorder& r) {
    fill_consumer_orders(r);
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", "");
    r.req("$JS.API.CONSUMER.LIST.ORDERS", "");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.A", durable("ORDERS", "A", R"("ack_policy":"explicit")"));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.B",
          durable("ORDERS", "B", R"("ack_policy":"all","filter_subject":"orders.a")"));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.C",
          durable("ORDERS", "C", R"("deliver_subject":"push.c","deliver_policy":"new")"));
    r.req("$JS.API.CONSUMER.INFO.ORDERS.A", "");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.B", "{}");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.C", "");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.A", "x");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.NOPE", "");
    r.req("$JS.API.CONSUMER.INFO.NOPE.A", "");
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", "");
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", R"({"offset":1})");
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", R"({"offset":9})");
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", "garbage");
    r.req("$JS.API.CONSUMER.NAMES.NOPE", "");
    r.req("$JS.API.CONSUMER.LIST.ORDERS", "");
    r.req("$JS.API.CONSUMER.LIST.ORDERS", R"({"offset":2})");
    r.req("$JS.API.CONSUMER.LIST.NOPE", "");
    r.req("$JS.API.CONSUMER.LIST.ORDERS", "garbage");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("$JS.API.INFO", "");
    r.req("$JS.API.CONSUMER.DELETE.ORDERS.A", "x");
    r.req("$JS.API.CONSUMER.DELETE.ORDERS.A", "");
    r.req("$JS.API.CONSUMER.DELETE.ORDERS.A", "");
    r.req("$JS.API.CONSUMER.DELETE.ORDERS.B", "{}");
    r.req("$JS.API.CONSUMER.DELETE.NOPE.B", "");
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", "");
    r.req("$JS.API.STREAM.CREATE.LIM", R"({"name":"LIM","subjects":["lim"],"max_consumers":1})");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.LIM.X", durable("LIM", "X", ""));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.LIM.Y", durable("LIM", "Y", ""));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.LIM.X", durable("LIM", "X", R"("max_deliver":5)"));
    r.req("$JS.API.STREAM.CREATE.WQ", R"({"name":"WQ","subjects":["wq.>"],"retention":"workqueue"})");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.WQ.N", durable("WQ", "N", R"("ack_policy":"none")"));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.WQ.L",
          durable("WQ", "L", R"("ack_policy":"explicit","deliver_policy":"last")"));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.WQ.W1", durable("WQ", "W1", R"("ack_policy":"explicit")"));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.WQ.W2", durable("WQ", "W2", R"("ack_policy":"explicit")"));
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.WQ.W3",
          durable("WQ", "W3", R"("ack_policy":"explicit","filter_subject":"wq.a")"));
    r.req("$JS.API.STREAM.DELETE.ORDERS", "");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.C", "");
  });
}

TEST(JsDifferential, PullRequests) {
  compare([](recorder& r) {
    fill_consumer_orders(r);
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.P",
          durable("ORDERS", "P",
                  R"("ack_policy":"explicit","ack_wait":30000000000,"max_batch":3,"max_expires":2000000000)"));
    auto two = r.pull("ORDERS", "P", R"({"batch":2})", 2, 2000ms);
    if (two.size() == 2) {
      r.ack(two[0], "+ACK");
      r.ack(two[1], "-NAK");
    }
    auto again = r.pull("ORDERS", "P", "", 1, 2000ms);
    if (!again.empty()) r.ack(again[0], "+WPI");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.P", "");
    if (!again.empty()) r.ack(again[0], "+TERM");
    auto rest = r.pull("ORDERS", "P", R"({"batch":3,"no_wait":true})", 4, 1000ms);
    for (const frame& f : rest) {
      if (!f.reply.empty()) r.ack(f, "+ACK");
    }
    r.pull("ORDERS", "P", R"({"batch":1,"no_wait":true})", 1, 1000ms);
    r.pull("ORDERS", "P", R"({"batch":2,"no_wait":true,"expires":1000000000})", 1, 2500ms);
    // The same, and a message arrives while it waits: that message, then 408 at once.
    r.pull("ORDERS", "P", R"({"batch":3,"no_wait":true,"expires":1900000000})", 0, 200ms);
    r.req("orders.e", "while waiting");
    r.expect(r.last_pull_sid(), 2, 2000ms, "no_wait request served while waiting");
    r.pull("ORDERS", "P", R"({"batch":2,"expires":300000000})", 1, 2000ms);
    r.pull("ORDERS", "P", R"({"batch":5})", 1, 1000ms);
    r.pull("ORDERS", "P", R"({"batch":1,"expires":3000000000})", 1, 1000ms);
    r.pull("ORDERS", "P", R"({"expires":-1,"no_wait":true})", 1, 1000ms);
    r.pull("ORDERS", "P", R"({"batch":1,"idle_heartbeat":1000000000})", 1, 1000ms);
    r.pull("ORDERS", "P", R"({"batch":1,"expires":1000000000,"idle_heartbeat":2000000000})", 1, 1000ms);
    r.pull("ORDERS", "P", R"({"batch":-1,"no_wait":true})", 1, 1000ms);
    r.pull("ORDERS", "NOPE", R"({"batch":1})", 1, 500ms);
    r.pull("NOPE", "P", R"({"batch":1})", 1, 500ms);
    r.req("orders.d", "seven");
    r.req("orders.d", "eight, a longer payload");
    r.pull("ORDERS", "P", R"({"batch":2,"max_bytes":10})", 2, 1000ms);
    r.pull("ORDERS", "P", R"({"batch":3,"max_bytes":150})", 3, 1000ms);
    r.req("$JS.API.CONSUMER.INFO.ORDERS.P", "");
    // A waiting request and then the consumer deleted.
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.W", durable("ORDERS", "W", R"("deliver_policy":"new")"));
    r.pull("ORDERS", "W", R"({"batch":1,"expires":5000000000})", 1, 200ms);
    r.req("$JS.API.CONSUMER.INFO.ORDERS.W", "");
    r.req("$JS.API.CONSUMER.DELETE.ORDERS.W", "");
    r.leftovers(500ms);
  });
}

TEST(JsDifferential, RedeliveryAckPoliciesAndDeliverPolicies) {
  compare([](recorder& r) {
    fill_consumer_orders(r);
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.R",
          durable("ORDERS", "R", R"("ack_policy":"explicit","ack_wait":400000000,"max_deliver":2)"));
    r.pull("ORDERS", "R", R"({"batch":1})", 1, 1000ms);
    r.pull("ORDERS", "R", R"({"batch":1,"expires":3000000000})", 1, 3000ms);
    r.pull("ORDERS", "R", R"({"batch":1,"expires":3000000000})", 1, 3000ms);
    r.req("$JS.API.CONSUMER.INFO.ORDERS.R", "");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.K",
          durable("ORDERS", "K", R"("ack_policy":"explicit","ack_wait":30000000000)"));
    auto k = r.pull("ORDERS", "K", R"({"batch":2})", 2, 1000ms);
    if (k.size() == 2) {
      r.ack(k[0], R"(-NAK {"delay":300000000})");
      r.ack(k[1], "-NAK 100ms");
    }
    r.pull("ORDERS", "K", R"({"batch":2,"expires":2000000000})", 2, 2000ms);
    r.req("$JS.API.CONSUMER.INFO.ORDERS.K", "");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.ALL", durable("ORDERS", "ALL", R"("ack_policy":"all")"));
    auto all = r.pull("ORDERS", "ALL", R"({"batch":3})", 3, 1000ms);
    if (all.size() == 3) r.ack(all[1], "+ACK");
    r.req("$JS.API.CONSUMER.INFO.ORDERS.ALL", "");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.NONE", durable("ORDERS", "NONE", R"("ack_policy":"none")"));
    r.pull("ORDERS", "NONE", R"({"batch":2})", 2, 1000ms);
    r.req("$JS.API.CONSUMER.INFO.ORDERS.NONE", "");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.MAP",
          durable("ORDERS", "MAP", R"("ack_policy":"explicit","max_ack_pending":1)"));
    r.pull("ORDERS", "MAP", R"({"batch":3,"expires":500000000})", 2, 1500ms);
    r.req("$JS.API.CONSUMER.INFO.ORDERS.MAP", "");
    auto policy = [&](const std::string& name, const std::string& cfg) {
      r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS." + name, durable("ORDERS", name, cfg));
      r.pull("ORDERS", name, R"({"batch":6,"no_wait":true})", 7, 1000ms);
    };
    policy("LAST", R"("deliver_policy":"last")");
    policy("NEW", R"("deliver_policy":"new")");
    policy("SEQ", R"("deliver_policy":"by_start_sequence","opt_start_seq":4)");
    policy("LPS", R"("deliver_policy":"last_per_subject")");
    policy("FILT", R"("filter_subject":"orders.a")");
    policy("FLAST", R"("deliver_policy":"last","filter_subject":"orders.b")");
    policy("HDRS", R"("headers_only":true,"filter_subject":"orders.c")");
    policy("TIME", R"("deliver_policy":"by_start_time","opt_start_time":"2001-01-01T00:00:00Z")");
    r.req("$JS.API.STREAM.CREATE.WQ", R"({"name":"WQ","subjects":["wq.>"],"retention":"workqueue"})");
    for (const char* s : {"wq.a", "wq.b", "wq.c"}) r.req(s, "w");
    r.req("$JS.API.CONSUMER.DURABLE.CREATE.WQ.W", durable("WQ", "W", R"("ack_policy":"explicit")"));
    auto w = r.pull("WQ", "W", R"({"batch":2})", 2, 1000ms);
    for (const frame& f : w) r.ack(f, "+ACK");
    r.req("$JS.API.STREAM.INFO.WQ", "");
    r.req("$JS.API.CONSUMER.INFO.WQ.W", "");
  });
}

TEST(JsDifferential, PushConsumers) {
  compare(
      [](recorder& r) {
        fill_consumer_orders(r);
        r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.PUSH",
              durable("ORDERS", "PUSH", R"("deliver_subject":"push.a","ack_policy":"explicit")"));
        auto got = r.expect("2", 5, 2000ms, "deliveries on push.a");
        for (const frame& f : got) r.ack(f, "+ACK");
        r.req("$JS.API.CONSUMER.INFO.ORDERS.PUSH", "");
        r.req("orders.x", "live");
        r.expect("2", 1, 2000ms, "live delivery on push.a");
        r.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.HB",
            durable(
                "ORDERS", "HB",
                R"("deliver_subject":"push.hb","deliver_policy":"new","idle_heartbeat":200000000,"flow_control":true)"));
        r.expect("3", 1, 2000ms, "first idle heartbeat on push.hb");
        r.req("$JS.API.CONSUMER.DELETE.ORDERS.HB", "");
        r.req("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.NOSUB",
              durable("ORDERS", "NOSUB", R"("deliver_subject":"push.nobody")"));
        r.req("$JS.API.CONSUMER.INFO.ORDERS.NOSUB", "");
        r.req(
            "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.HO",
            durable("ORDERS", "HO", R"("deliver_subject":"push.ho","headers_only":true,"filter_subject":"orders.c")"));
        r.expect("4", 1, 2000ms, "headers-only delivery");
        r.req("$JS.API.CONSUMER.DELETE.ORDERS.PUSH", "");
        r.req("$JS.API.CONSUMER.DELETE.ORDERS.HO", "");
        r.sleep(300ms);
        r.discard();
      },
      {"SUB push.a 2", "SUB push.hb 3", "SUB push.ho 4"});
}

}  // namespace
}  // namespace ferry::test::jsdiff
