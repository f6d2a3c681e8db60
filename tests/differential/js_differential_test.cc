// Differential JetStream API test: scripted raw $JS.API sessions sent in the same order to
// Debian's nats-server 2.9.10 (-js, temporary store dir) and to ferryd (-js, its own store dir);
// the replies are compared as parsed JSON (PubAcks and status frames too), header blocks,
// subjects, sids and the empty-reply framing byte for byte. The masks are listed in js_harness.h.
// Set JSDIFF_DUMP=1 to print both transcripts side by side.
//
// nats-server 2.9.10 is the reference, also where it differs from the 2.10 documentation:
//   - CONSUMER.CREATE ignores "action" (2.10 added it): "create" on an existing consumer with
//     another config updates it, "update" on a missing consumer creates it (ConsumerCreate).
//   - STREAM.CREATE of an existing stream with an identical config answers did_create:true.
//   - A pull request with no_wait and an expiry waits for that expiry when nothing is there
//     (408, not 404), and ends with a 408 as soon as it got something (PullRequests).
//   - STREAM.UPDATE accepts num_replicas up to 5 on a single server (only create refuses > 1).
//   - Stream update to sealed forces discard new, deny_delete, deny_purge, max_age 0 and no
//     rollups; the consumer create checks run in checkConsumerCfg's order ("start start
//     sequence" typo included).
//
// Deliberate differences, not scripted here (docs/protocol.md, "JetStream differences"):
//   - "+TERM <reason>": 2.9.10 ignores such an ack; ferryd terminates and keeps the reason (2.10).
//   - Mirrors, sources, placement and subject transforms are refused with 400/10999 "... is not
//     supported by ferryd"; nats-server creates such streams.
//   - "dead_letter_stream" is a ferryd extension field of stream and consumer configs (ferryd
//     echoes it when set; nats-server drops it as an unknown field).
//   - No $JS.EVENT.ADVISORY.API audit advisories, no stream/consumer create and delete
//     advisories, no JetStream domains; rate_limit_bps is stored but not enforced.
//   - Push flow-control and heartbeat timing (when the first flow-control request goes out) is
//     not compared; the protocol is covered by the first heartbeat here and by
//     tests/interop/c/nats_c_js_ack_test.cc (stall without an answer, Nats-Consumer-Stalled).
#include <gtest/gtest.h>

#include "js_harness.h"

namespace ferry::test::jsdiff {
namespace {

using namespace std::chrono_literals;

const std::string stream_orders = R"({"name":"ORDERS","subjects":["orders.>"]})";

TEST(JsDifferential, AccountInfo) {
  compare([](recorder& r) {
    r.req("$JS.API.INFO", "");
    r.req("$JS.API.INFO", "{}");
    r.req("$JS.API.INFO", "garbage");
    r.req("$JS.API.STREAM.CREATE.ORDERS", stream_orders);
    r.req("orders.a", "hello");
    r.req("$JS.API.STREAM.INFO.NOPE", "");
    r.req("$JS.API.INFO", "");
    r.req("$JS.API.NOT.A.THING", "", 500ms);
  });
}

TEST(JsDifferential, StreamCreate) {
  compare([](recorder& r) {
    r.req("$JS.API.STREAM.CREATE.ORDERS", stream_orders);
    r.req("$JS.API.STREAM.CREATE.ORDERS", stream_orders);
    r.req(
        "$JS.API.STREAM.CREATE.ORDERS",
        R"({"name":"ORDERS","subjects":["orders.>"],"storage":"file","retention":"limits","max_msgs":-1,"duplicate_window":120000000000})");
    r.req("$JS.API.STREAM.CREATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"max_msgs":10})");
    r.req("$JS.API.STREAM.CREATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.*"]})");
    r.req("$JS.API.STREAM.CREATE.OV", R"({"name":"OV","subjects":["orders.a"]})");
    r.req("$JS.API.STREAM.CREATE.OV2", R"({"name":"OV2","subjects":[">"]})");
    r.req("$JS.API.STREAM.CREATE.OV3", R"({"name":"OV3","subjects":["x.a","x.>"]})");
    r.req("$JS.API.STREAM.CREATE.OV4", R"({"name":"OV4","subjects":["y.a","y.a"]})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"BAR","subjects":["foo"]})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"subjects":["foo"]})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"FOO","subjects":["foo"])");
    r.req("$JS.API.STREAM.CREATE.FOO", "");
    r.req("$JS.API.STREAM.CREATE.FOO", "[1,2]");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"FOO","subjects":["foo"],"storage":"disk"})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"FOO","subjects":["foo"],"retention":"forever"})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"FOO","subjects":["foo"],"max_msgs":"ten"})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"FOO","subjects":"foo"})");
    r.req("$JS.API.STREAM.CREATE.FOO", R"({"name":"FOO","subjects":["foo"],"bogus":1})");
    r.req("$JS.API.STREAM.CREATE.A.B", R"({"name":"A.B","subjects":["ab"]})", 500ms);
    r.req("$JS.API.STREAM.CREATE.AB", R"({"name":"A.B","subjects":["ab"]})");
    r.req("$JS.API.STREAM.CREATE.A*", R"({"name":"A*","subjects":["ab"]})");
    r.req("$JS.API.STREAM.CREATE.A>", R"({"name":"A>","subjects":["ab"]})");
    r.req("$JS.API.STREAM.CREATE.A/B", R"({"name":"A/B","subjects":["ab1"]})");
    r.req("$JS.API.STREAM.CREATE.A\\B", R"({"name":"A\\B","subjects":["ab2"]})");
    r.req("$JS.API.STREAM.CREATE.A\fB", R"({"name":"A\fB","subjects":["ab3"]})");
    const std::string star_name = std::string(280, 'L') + "*" + std::string(19, 'L');
    r.req("$JS.API.STREAM.CREATE." + star_name, R"({"name":")" + star_name + R"(","subjects":["long2"]})");
    r.req("$JS.API.STREAM.CREATE." + std::string(256, 'N'),
          R"({"name":")" + std::string(256, 'N') + R"(","subjects":["long"]})");
    r.req("$JS.API.STREAM.CREATE.DESC",
          R"({"name":"DESC","subjects":["desc"],"description":")" + std::string(4097, 'd') + R"("})");
    r.req("$JS.API.STREAM.CREATE.DESC2", R"({"name":"DESC2","subjects":["desc2"],"description":"a stream"})");
    r.req("$JS.API.STREAM.CREATE.NOSUBJ", R"({"name":"NOSUBJ"})");
    r.req("$JS.API.STREAM.CREATE.MEM", R"({"name":"MEM","subjects":["mem.>"],"storage":"memory"})");
    r.req("$JS.API.STREAM.CREATE.WQ", R"({"name":"WQ","subjects":["wq.>"],"retention":"workqueue"})");
    r.req("$JS.API.STREAM.CREATE.INT", R"({"name":"INT","subjects":["int.>"],"retention":"interest"})");
    r.req("$JS.API.STREAM.CREATE.AGE", R"({"name":"AGE","subjects":["age.>"],"max_age":100000000})");
    r.req("$JS.API.STREAM.CREATE.AGE2", R"({"name":"AGE2","subjects":["age2.>"],"max_age":60000000000})");
    r.req("$JS.API.STREAM.CREATE.AGE3", R"({"name":"AGE3","subjects":["age3.>"],"max_age":99999999})");
    r.req("$JS.API.STREAM.CREATE.AGE4", R"({"name":"AGE4","subjects":["age4.>"],"max_age":-1})");
    r.req("$JS.API.STREAM.CREATE.DW0", R"({"name":"DW0","subjects":["dw0.>"],"duplicate_window":0})");
    r.req("$JS.API.STREAM.CREATE.DW1", R"({"name":"DW1","subjects":["dw1.>"],"duplicate_window":1000000000})");
    r.req("$JS.API.STREAM.CREATE.DW2",
          R"({"name":"DW2","subjects":["dw2.>"],"max_age":1000000000,"duplicate_window":2000000000})");
    r.req("$JS.API.STREAM.CREATE.DW3", R"({"name":"DW3","subjects":["dw3.>"],"duplicate_window":-5})");
    r.req("$JS.API.STREAM.CREATE.R3", R"({"name":"R3","subjects":["r3"],"num_replicas":3})");
    r.req("$JS.API.STREAM.CREATE.R6", R"({"name":"R6","subjects":["r6"],"num_replicas":6})");
    r.req("$JS.API.STREAM.CREATE.ROLL",
          R"({"name":"ROLL","subjects":["roll"],"deny_purge":true,"allow_rollup_hdrs":true})");
    r.req("$JS.API.STREAM.CREATE.SEAL", R"({"name":"SEAL","subjects":["seal"],"sealed":true})");
    r.req("$JS.API.STREAM.CREATE.API", R"({"name":"API","subjects":["$JS.API.>"]})");
    r.req("$JS.API.STREAM.CREATE.API2", R"({"name":"API2","subjects":["$JS.API.INFO"]})");
    r.req("$JS.API.STREAM.CREATE.BADSUBJ", R"({"name":"BADSUBJ","subjects":["a..b"]})");
    r.req("$JS.API.STREAM.CREATE.BADSUBJ", R"({"name":"BADSUBJ","subjects":["a b"]})");
    r.req(
        "$JS.API.STREAM.CREATE.LIMITS",
        R"({"name":"LIMITS","subjects":["lim.>"],"max_msgs":10,"max_bytes":1000,"max_msgs_per_subject":2,"max_msg_size":100,"max_consumers":3,"discard":"new","no_ack":true,"allow_direct":true,"deny_delete":true,"allow_rollup_hdrs":true})");
    r.req(
        "$JS.API.STREAM.CREATE.DNPS",
        R"({"name":"DNPS","subjects":["dnps.>"],"discard":"new","max_msgs_per_subject":1,"discard_new_per_subject":true})");
    r.req("$JS.API.STREAM.CREATE.DNPS2", R"({"name":"DNPS2","subjects":["dnps2.>"],"discard_new_per_subject":true})");
    r.req(
        "$JS.API.STREAM.CREATE.ZERO",
        R"({"name":"ZERO","subjects":["zero"],"max_msgs":0,"max_bytes":0,"max_msg_size":0,"max_consumers":0,"num_replicas":0})");
    r.req("$JS.API.STREAM.CREATE.NULLS", R"({"name":"NULLS","subjects":null,"max_msgs":null})");
  });
}

TEST(JsDifferential, StreamUpdate) {
  compare([](recorder& r) {
    r.req("$JS.API.STREAM.CREATE.ORDERS", stream_orders);
    r.req("$JS.API.STREAM.CREATE.OTHER", R"({"name":"OTHER","subjects":["other.>"]})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>","more.>"],"max_msgs":5})");
    r.req(
        "$JS.API.STREAM.UPDATE.ORDERS",
        R"({"name":"ORDERS","subjects":["orders.>"],"description":"d","max_age":3600000000000,"max_bytes":100000,"discard":"new"})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"storage":"memory"})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"retention":"workqueue"})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"max_consumers":2})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>","other.x"]})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"num_replicas":3})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"sealed":true})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"deny_delete":true})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"allow_direct":true})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"ORDERS","subjects":["orders.>"],"max_age":10})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", R"({"name":"OTHER","subjects":["orders.>"]})");
    r.req("$JS.API.STREAM.UPDATE.NOPE", R"({"name":"NOPE","subjects":["nope"]})");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", "");
    r.req("$JS.API.STREAM.UPDATE.ORDERS", "{bad");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("$JS.API.STREAM.CREATE.SEALME", R"({"name":"SEALME","subjects":["sealme"]})");
    r.req("sealme", "x");
    r.req("$JS.API.STREAM.UPDATE.SEALME", R"({"name":"SEALME","subjects":["sealme"],"sealed":true})");
    r.req("sealme", "y");
    r.req("$JS.API.STREAM.UPDATE.SEALME", R"({"name":"SEALME","subjects":["sealme"],"sealed":false})");
    r.req("$JS.API.STREAM.PURGE.SEALME", "");
    r.req("$JS.API.STREAM.MSG.DELETE.SEALME", R"({"seq":1})");
  });
}

// Fills ORDERS with 6 messages on 3 subjects (one with headers), deletes seq 2.
void fill_orders(recorder& r) {
  r.req("$JS.API.STREAM.CREATE.ORDERS", stream_orders);
  r.req("orders.a", "one");
  r.req("orders.b", "two");
  r.hreq("orders.c", {"X-Trace: t1", "X-Other: o"}, "three");
  r.req("orders.a", "four");
  r.req("orders.b", "");
  r.req("orders.a", "six");
  r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":2})");
}

TEST(JsDifferential, StreamInfoNamesList) {
  compare([](recorder& r) {
    r.req("$JS.API.STREAM.NAMES", "");
    r.req("$JS.API.STREAM.LIST", "");
    fill_orders(r);
    r.req("$JS.API.STREAM.CREATE.MEM", R"({"name":"MEM","subjects":["mem.>"],"storage":"memory"})");
    r.req("mem.x", "m");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("$JS.API.STREAM.INFO.ORDERS", "{}");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":">"})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":"orders.a"})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":"orders.*"})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":"nomatch"})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"deleted_details":true})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"deleted_details":true,"subjects_filter":"orders.b"})");
    r.req("$JS.API.STREAM.INFO.ORDERS", "garbage");
    r.req("$JS.API.STREAM.INFO.MEM", "");
    r.req("$JS.API.STREAM.INFO.NOPE", "");
    r.req("$JS.API.STREAM.NAMES", "");
    r.req("$JS.API.STREAM.NAMES", R"({"subject":"orders.x"})");
    r.req("$JS.API.STREAM.NAMES", R"({"subject":"mem.*"})");
    r.req("$JS.API.STREAM.NAMES", R"({"subject":">"})");
    r.req("$JS.API.STREAM.NAMES", R"({"subject":"nothing.here"})");
    r.req("$JS.API.STREAM.NAMES", R"({"offset":1})");
    r.req("$JS.API.STREAM.NAMES", R"({"offset":5})");
    r.req("$JS.API.STREAM.NAMES", "garbage");
    r.req("$JS.API.STREAM.LIST", "garbage");
    r.req("$JS.API.STREAM.NAMES", "{ }");
    r.req("$JS.API.STREAM.LIST", "");
    r.req("$JS.API.STREAM.LIST", R"({"subject":"mem.x"})");
    r.req("$JS.API.STREAM.LIST", R"({"offset":1})");
    r.req("$JS.API.STREAM.LIST", R"({"offset":5})");
    r.req("$JS.API.STREAM.LIST", R"({"subject":"nothing.here"})");
    r.req("$JS.API.STREAM.DELETE.MEM", "x");
    r.req("$JS.API.STREAM.DELETE.MEM", "{\"a\":1}");
    r.req("$JS.API.STREAM.DELETE.MEM", "{ }");
    r.req("$JS.API.STREAM.CREATE.MEM", R"({"name":"MEM","subjects":["mem.>"],"storage":"memory"})");
    r.req("$JS.API.STREAM.DELETE.MEM", "");
    r.req("$JS.API.STREAM.DELETE.MEM", "");
    r.req("$JS.API.STREAM.NAMES", "");
  });
}

TEST(JsDifferential, StreamPurge) {
  compare([](recorder& r) {
    fill_orders(r);
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"filter":"orders.b"})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":">"})");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"filter":"orders.a","keep":1})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":">"})");
    for (const char* s : {"orders.x", "orders.y", "orders.z", "orders.x"}) r.req(s, "p");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"seq":9})");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"seq":3,"keep":1})");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"keep":1})");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"filter":"orders.x","seq":100})");
    r.req("$JS.API.STREAM.PURGE.ORDERS", "garbage");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"filter":"nomatch.>"})");
    r.req("$JS.API.STREAM.PURGE.ORDERS", "");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("orders.a", "after");
    r.req("$JS.API.STREAM.PURGE.NOPE", "");
    r.req("$JS.API.STREAM.CREATE.NOPURGE", R"({"name":"NOPURGE","subjects":["np"],"deny_purge":true})");
    r.req("$JS.API.STREAM.PURGE.NOPURGE", "");
  });
}

TEST(JsDifferential, MsgGetAndDelete) {
  compare([](recorder& r) {
    fill_orders(r);
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":1})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":3})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":5})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":2})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":99})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"last_by_subj":"orders.a"})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"last_by_subj":"orders.*"})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"last_by_subj":"orders.none"})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"next_by_subj":"orders.a","seq":2})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"next_by_subj":"orders.c"})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":1,"last_by_subj":"orders.a"})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", "{}");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", "");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", "garbage");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":"1"})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":-1})");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":null,"last_by_subj":"orders.b"})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":true})");
    r.req("$JS.API.STREAM.NAMES", R"({"offset":"x"})");
    r.req("$JS.API.STREAM.NAMES", R"({"offset":null,"subject":null})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":5})");
    r.req("$JS.API.STREAM.PURGE.ORDERS", R"({"keep":"all"})");
    r.req("$JS.API.DIRECT.GET.ORDERS", R"({"seq":"1"})", 500ms);
    r.req("$JS.API.CONSUMER.NAMES.ORDERS", R"({"offset":[1]})");
    r.req("$JS.API.STREAM.MSG.GET.NOPE", R"({"seq":1})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":1})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":1})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":3,"no_erase":true})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":0})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":99})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", "");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", "{}");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", "{ }");
    r.req("$JS.API.STREAM.MSG.GET.ORDERS", "{ }");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", "garbage");
    r.req("$JS.API.STREAM.MSG.DELETE.NOPE", R"({"seq":1})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"deleted_details":true})");
    r.req("$JS.API.STREAM.MSG.DELETE.ORDERS", R"({"seq":6})");
    r.req("$JS.API.STREAM.INFO.ORDERS", R"({"deleted_details":true})");
    r.req("$JS.API.STREAM.CREATE.NODEL", R"({"name":"NODEL","subjects":["nodel"],"deny_delete":true})");
    r.req("nodel", "x");
    r.req("$JS.API.STREAM.MSG.DELETE.NODEL", R"({"seq":1})");
  });
}

TEST(JsDifferential, DirectGet) {
  compare([](recorder& r) {
    r.req("$JS.API.STREAM.CREATE.DG", R"({"name":"DG","subjects":["dg.>"],"allow_direct":true})");
    r.req("$JS.API.STREAM.CREATE.ND", R"({"name":"ND","subjects":["nd.>"]})");
    r.req("dg.a", "1");
    r.hreq("dg.b", {"X-Trace: t1"}, "2");
    r.req("dg.a", "3");
    r.req("nd.a", "x");
    r.req("$JS.API.DIRECT.GET.DG", R"({"seq":2})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"seq":1})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"last_by_subj":"dg.a"})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"next_by_subj":"dg.a","seq":2})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"next_by_subj":"dg.b"})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"seq":99})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"last_by_subj":"dg.zzz"})");
    r.req("$JS.API.DIRECT.GET.DG", "");
    r.req("$JS.API.DIRECT.GET.DG", "{}");
    r.req("$JS.API.DIRECT.GET.DG", "{bad");
    r.req("$JS.API.DIRECT.GET.DG", R"({"seq":1,"last_by_subj":"dg.a"})");
    r.req("$JS.API.DIRECT.GET.DG.dg.a", "");
    r.req("$JS.API.DIRECT.GET.DG.dg.b", "");
    r.req("$JS.API.DIRECT.GET.DG.dg.*", "");
    r.req("$JS.API.DIRECT.GET.DG.dg.none", "");
    r.req("$JS.API.DIRECT.GET.DG.dg.a", R"({"seq":1})");
    r.req("$JS.API.DIRECT.GET.ND", R"({"seq":1})", 500ms);
    r.req("$JS.API.DIRECT.GET.NOPE", R"({"seq":1})", 500ms);
    r.req("$JS.API.STREAM.UPDATE.ND", R"({"name":"ND","subjects":["nd.>"],"allow_direct":true})");
    r.req("$JS.API.DIRECT.GET.ND", R"({"seq":1})");
    r.req("$JS.API.STREAM.UPDATE.DG", R"({"name":"DG","subjects":["dg.>"],"allow_direct":false})");
    r.req("$JS.API.DIRECT.GET.DG", R"({"seq":1})", 500ms);
  });
}

TEST(JsDifferential, PublishAcksDedupAndExpectations) {
  compare([](recorder& r) {
    r.req("$JS.API.STREAM.CREATE.ORDERS", stream_orders);
    r.req("orders.a", "1");
    r.hreq("orders.a", {"Nats-Msg-Id: m1"}, "2");
    r.hreq("orders.a", {"Nats-Msg-Id: m1"}, "2 again");
    r.hreq("orders.b", {"Nats-Msg-Id: m2", "Nats-Expected-Stream: ORDERS"}, "3");
    r.hreq("orders.b", {"Nats-Expected-Stream: OTHER"}, "x");
    r.hreq("orders.b", {"Nats-Msg-Id: m2", "Nats-Expected-Stream: OTHER"}, "dup first");
    r.hreq("orders.b", {"Nats-Expected-Last-Sequence: 3"}, "4");
    r.hreq("orders.b", {"Nats-Expected-Last-Sequence: 3"}, "x");
    r.hreq("orders.b", {"Nats-Expected-Last-Sequence: abc"}, "x");
    r.hreq("orders.b", {"Nats-Msg-Id: m2", "Nats-Expected-Last-Sequence: 1"}, "dup before last seq");
    r.hreq("orders.b", {"Nats-Msg-Id: m2", "Nats-Expected-Last-Msg-Id: nope"}, "dup before last msg id");
    r.hreq("orders.b", {"Nats-Expected-Last-Subject-Sequence: 4"}, "5");
    r.hreq("orders.b", {"Nats-Expected-Last-Subject-Sequence: 4"}, "x");
    r.hreq("orders.new", {"Nats-Expected-Last-Subject-Sequence: 0"}, "6");
    r.hreq("orders.new", {"Nats-Expected-Last-Subject-Sequence: 0"}, "x");
    r.hreq("orders.c", {"Nats-Msg-Id: m7"}, "7");
    r.hreq("orders.c", {"Nats-Expected-Last-Msg-Id: m7"}, "8");
    r.hreq("orders.c", {"Nats-Expected-Last-Msg-Id: m7"}, "x");
    r.hreq("orders.c", {"Nats-Expected-Last-Msg-Id: m7", "Nats-Msg-Id: m9"}, "x");
    r.req("$JS.API.STREAM.INFO.ORDERS", "");
    r.req("nostream.here", "x");
    r.req("$JS.API.STREAM.CREATE.SMALL",
          R"({"name":"SMALL","subjects":["small.>"],"max_msgs":2,"discard":"new","max_msg_size":10})");
    r.req("small.a", "1");
    r.req("small.a", "12345678901");
    r.hreq("small.a", {"X-Long: 123456789"}, "1");
    r.req("small.b", "2");
    r.req("small.c", "3");
    r.req(
        "$JS.API.STREAM.CREATE.PERSUBJ",
        R"({"name":"PERSUBJ","subjects":["ps.>"],"max_msgs_per_subject":1,"discard":"new","discard_new_per_subject":true})");
    r.req("ps.a", "1");
    r.req("ps.a", "2");
    r.req("ps.b", "3");
    r.req("$JS.API.STREAM.CREATE.ROLL", R"({"name":"ROLL","subjects":["roll.>"],"allow_rollup_hdrs":true})");
    for (const char* s : {"roll.a", "roll.a", "roll.b"}) r.req(s, "r");
    r.hreq("roll.a", {"Nats-Rollup: sub"}, "rolled");
    r.req("$JS.API.STREAM.INFO.ROLL", R"({"subjects_filter":">"})");
    r.hreq("roll.b", {"Nats-Rollup: all"}, "all");
    r.req("$JS.API.STREAM.INFO.ROLL", "");
    r.hreq("roll.b", {"Nats-Rollup: bogus"}, "x", 500ms);
    r.hreq("orders.a", {"Nats-Rollup: sub"}, "x");
    r.req("$JS.API.STREAM.CREATE.NOACK", R"({"name":"NOACK","subjects":["noack"],"no_ack":true})");
    r.req("noack", "x", 500ms);
    r.req("$JS.API.STREAM.INFO.NOACK", "");
  });
}

}  // namespace
}  // namespace ferry::test::jsdiff
