// The ferry CLI's JetStream commands (stream, consumer, kv, dlq) run as users run them, against
// a ferryd with JetStream on in a temporary store directory: their output, their errors and
// exit codes, and ferryd's dead-letter extension end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "cli_util.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

class FerryJs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("ferry-cli-js-");
    port_ = free_port();
    ASSERT_TRUE(d_.start({ferryd_path(), "-p", std::to_string(port_), "-js", "-sd", dir_ + "/store"}, dir_ + "/log"));
    ASSERT_TRUE(d_.wait_for_port(port_)) << slurp(dir_ + "/log");
    ferry_ = bin("ferry") + " -s nats://127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override {
    const int rc = d_.stop();
    if (HasFailure()) ADD_FAILURE() << "ferryd exit status " << rc << ", log:\n" << slurp(dir_ + "/log");
    fs::remove_all(dir_);
  }
  // Runs `ferry -s URL <args>`.
  run_result ferry(const std::string& args) { return run(ferry_ + " " + args); }
  // Runs it and expects success.
  std::string ok(const std::string& args) {
    auto r = ferry(args);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.out;
    return r.out;
  }

  child_process d_;
  std::string dir_, ferry_;
  int port_ = 0;
};

TEST_F(FerryJs, StreamAddInfoGetPurgeRm) {
  std::string out =
      ok("stream add ORDERS --subjects 'orders.>' --subjects audit --max-age 1h --dupe-window 1m "
         "--max-msgs-per-subject 100 --max-bytes 1MiB");
  EXPECT_TRUE(has(out, "Stream ORDERS\n")) << out;
  EXPECT_TRUE(has(out, "  Subjects:            orders.>, audit\n")) << out;
  EXPECT_TRUE(has(out, "  Max age:             1h\n")) << out;
  EXPECT_TRUE(has(out, "  Duplicate window:    1m\n")) << out;
  EXPECT_TRUE(has(out, "  Max bytes:           1.0 MiB\n")) << out;
  EXPECT_TRUE(has(out, "  Messages:            0\n")) << out;
  // The same configuration again is a no-op; a different one is an error.
  ok("stream add ORDERS --subjects 'orders.>' --subjects audit --max-age 1h --dupe-window 1m "
     "--max-msgs-per-subject 100 --max-bytes 1MiB");
  auto clash = ferry("stream add ORDERS --subjects other");
  EXPECT_EQ(clash.code, 1);
  EXPECT_EQ(clash.out, "ferry: stream ORDERS: stream name already in use with a different configuration\n");

  ok("pub orders.new 'order {{Count}}' --count 3 -H X-Id:7 --quiet");
  ok("pub orders.old gone --quiet");
  out = ok("stream info ORDERS");
  EXPECT_TRUE(has(out, "  Messages:            4\n")) << out;
  EXPECT_TRUE(has(out, "  First sequence:      1 @ ")) << out;
  EXPECT_TRUE(has(out, "  Last sequence:       4 @ ")) << out;
  EXPECT_TRUE(has(out, "  Subjects:            2\n")) << out;
  out = ok("stream info ORDERS --json");
  EXPECT_TRUE(has(out, "\"messages\": 4")) << out;
  EXPECT_TRUE(has(out, "\"max_age\": 3600000000000")) << out;
  EXPECT_FALSE(has(out, "\"type\"")) << out;
  out = ok("stream ls");
  EXPECT_TRUE(has(out, "NAME    SUBJECTS        STORAGE  MESSAGES  BYTES")) << out;
  EXPECT_TRUE(has(out, "ORDERS  orders.>,audit  file     4 ")) << out;

  out = ok("stream get ORDERS 2");
  EXPECT_TRUE(has(out, "Stream:   ORDERS\nSequence: 2\nSubject:  orders.new\nTime:     ")) << out;
  EXPECT_TRUE(has(out, "Headers:\n  X-Id: 7\n\norder 2\n")) << out;
  EXPECT_EQ(ok("stream get ORDERS --last-for orders.new --raw"), "order 3\n");
  auto missing = ferry("stream get ORDERS 99");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.out, "ferry: stream ORDERS: no message with sequence 99\n");
  missing = ferry("stream get ORDERS --last-for orders.none");
  EXPECT_EQ(missing.out, "ferry: stream ORDERS: no message on subject orders.none\n");
  auto both = ferry("stream get ORDERS 2 --last-for orders.new");
  EXPECT_NE(both.code, 0);
  EXPECT_TRUE(has(both.out, "excludes")) << both.out;

  // Purge: one subject keeping the newest, below a sequence, then everything.
  // Like rm, purge asks first; without a terminal to ask on it needs --force.
  auto unasked = ferry("stream purge ORDERS");
  EXPECT_EQ(unasked.code, 1);
  EXPECT_EQ(unasked.out, "ferry: not purging stream ORDERS without confirmation (use --force)\n");
  EXPECT_EQ(ok("stream purge ORDERS --subject orders.new --keep 1 -f"), "Purged 2 messages from stream ORDERS\n");
  EXPECT_EQ(ok("stream get ORDERS --last-for orders.new --raw"), "order 3\n");
  EXPECT_EQ(ok("stream purge ORDERS --seq 4 --force"), "Purged 1 message from stream ORDERS\n");
  EXPECT_TRUE(has(ok("stream info ORDERS"), "  Messages:            1\n"));
  EXPECT_EQ(ok("stream purge ORDERS --force"), "Purged 1 message from stream ORDERS\n");
  auto keep_seq = ferry("stream purge ORDERS --keep 1 --seq 2");
  EXPECT_NE(keep_seq.code, 0);
  EXPECT_TRUE(has(keep_seq.out, "--keep excludes --seq")) << keep_seq.out;

  // rm asks without a terminal, so it needs --force.
  auto refused = run(ferry_ + " stream rm ORDERS < /dev/null");
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(refused.out, "ferry: not deleting stream ORDERS without confirmation (use --force)\n");
  EXPECT_EQ(ok("stream rm ORDERS --force"), "Deleted stream ORDERS\n");
  EXPECT_EQ(ok("stream ls"), "No streams defined\n");
  auto gone = ferry("stream info ORDERS");
  EXPECT_EQ(gone.code, 1);
  EXPECT_EQ(gone.out, "ferry: stream ORDERS: stream not found\n");
}

TEST_F(FerryJs, ConsumerAddNextAckInfoRm) {
  ok("stream add JOBS --subjects 'jobs.*' --storage memory");
  ok("pub jobs.a 'job {{Count}}' --count 3 -H Trace:t1 --quiet");
  std::string out =
      ok("consumer add JOBS worker --filter 'jobs.*' --ack-wait 30s --max-deliver 5 --backoff 1s,5s "
         "--max-ack-pending 10");
  EXPECT_TRUE(has(out, "Consumer JOBS > worker\n")) << out;
  EXPECT_TRUE(has(out, "  Mode:                pull\n")) << out;
  EXPECT_TRUE(has(out, "  Ack policy:          explicit\n")) << out;
  EXPECT_TRUE(has(out, "  Ack wait:            1s\n")) << out;  // the first backoff
  EXPECT_TRUE(has(out, "  Backoff:             1s, 5s\n")) << out;
  EXPECT_TRUE(has(out, "  Max deliver:         5\n")) << out;
  EXPECT_TRUE(has(out, "  Unprocessed:         3\n")) << out;

  auto next = ferry("consumer next JOBS worker --count 2");
  EXPECT_EQ(next.code, 0) << next.out;
  EXPECT_TRUE(has(next.out, "[#1] \"jobs.a\" stream seq 1, consumer seq 1, delivery 1, pending 2, ")) << next.out;
  EXPECT_TRUE(has(next.out, "Trace: t1\n\njob 1\n")) << next.out;
  EXPECT_TRUE(has(next.out, "[#2] \"jobs.a\" stream seq 2, consumer seq 2, delivery 1, pending 1, ")) << next.out;
  EXPECT_TRUE(has(next.out, "Acknowledged\n")) << next.out;
  out = ok("consumer info JOBS worker");
  EXPECT_TRUE(has(out, "  Ack floor:           consumer seq 2, stream seq 2\n")) << out;
  EXPECT_TRUE(has(out, "  Outstanding acks:    0\n")) << out;
  EXPECT_TRUE(has(out, "  Unprocessed:         1\n")) << out;

  // Not acknowledged: outstanding until the ack wait runs out.
  EXPECT_EQ(ok("consumer next JOBS worker --no-ack --raw"), "job 3\n");
  out = ok("consumer info JOBS worker --json");
  EXPECT_TRUE(has(out, "\"num_ack_pending\": 1")) << out;
  EXPECT_TRUE(has(out, "\"durable_name\": \"worker\"")) << out;
  // Fewer messages than asked for within the timeout is an error.
  auto few = ferry("consumer next JOBS worker --count 2 --timeout 300ms");
  EXPECT_EQ(few.code, 1);
  EXPECT_TRUE(has(few.out, "ferry: no message from consumer JOBS > worker within 300ms\n")) << few.out;

  ok("consumer add JOBS pusher --target out.jobs --deliver-group g --deliver last --ack none");
  out = ok("consumer ls JOBS");
  EXPECT_TRUE(has(out, "NAME    MODE                          FILTER  ACK       ACK PENDING")) << out;
  EXPECT_TRUE(has(out, "pusher  push to \"out.jobs\" (group g)  -       none")) << out;
  EXPECT_TRUE(has(out, "worker  pull                          jobs.*  explicit  1            0 ")) << out;
  auto push = ferry("consumer next JOBS pusher");
  EXPECT_EQ(push.code, 1);
  EXPECT_EQ(push.out, "ferry: consumer JOBS > pusher is a push consumer delivering to \"out.jobs\" (use ferry sub)\n");
  auto seq = ok("consumer add JOBS from2 --deliver 2");
  EXPECT_TRUE(has(seq, "  Deliver policy:      by_start_sequence from 2\n")) << seq;
  auto time = ok("consumer add JOBS since --deliver 2026-01-02T03:04:05Z");
  EXPECT_TRUE(has(time, "  Deliver policy:      by_start_time from 2026-01-02T03:04:05Z\n")) << time;

  EXPECT_EQ(ok("consumer rm JOBS pusher"), "Deleted consumer JOBS > pusher\n");
  auto again = ferry("consumer rm JOBS pusher");
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(again.out, "ferry: consumer JOBS > pusher: consumer not found\n");
  auto info = ferry("consumer info JOBS nobody");
  EXPECT_EQ(info.out, "ferry: consumer JOBS > nobody: consumer not found\n");
  auto nostream = ferry("consumer ls NOPE");
  EXPECT_EQ(nostream.code, 1);
  EXPECT_EQ(nostream.out, "ferry: stream NOPE: stream not found\n");
  auto bad = ferry("consumer add JOBS x --deliver sometime");
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(has(bad.out, "ferry: invalid --deliver \"sometime\"")) << bad.out;
  auto group = ferry("consumer add JOBS x --deliver-group g");
  EXPECT_EQ(group.out, "ferry: --deliver-group needs a push consumer (--target SUBJECT)\n");
}

TEST_F(FerryJs, KvPutGetDelWatchKeys) {
  EXPECT_EQ(ok("kv add cfg --history 5 --ttl 1h"), "Created bucket cfg (history 5, ttl 1h, file storage)\n");
  EXPECT_EQ(ok("kv put cfg db.host alpha"), "cfg > db.host revision 1\n");
  EXPECT_EQ(ok("kv put cfg db.host beta"), "cfg > db.host revision 2\n");
  EXPECT_EQ(ok("kv put cfg mode on"), "cfg > mode revision 3\n");
  EXPECT_EQ(run("printf 'from stdin' | " + ferry_ + " kv put cfg note -").out, "cfg > note revision 4\n");
  std::string out = ok("kv get cfg db.host");
  EXPECT_TRUE(has(out, "cfg > db.host revision 2 created ")) << out;
  EXPECT_TRUE(has(out, "\n\nbeta\n")) << out;
  EXPECT_EQ(ok("kv get cfg db.host --revision 1 --raw"), "alpha\n");
  EXPECT_EQ(ok("kv get cfg note --raw"), "from stdin\n");
  auto wrong = ferry("kv get cfg db.host --revision 3");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_EQ(wrong.out, "ferry: cfg > db.host: revision 3 is of key mode\n");

  EXPECT_EQ(ok("kv del cfg mode"), "Deleted cfg > mode\n");
  auto deleted = ferry("kv get cfg mode");
  EXPECT_EQ(deleted.code, 1);
  EXPECT_EQ(deleted.out, "ferry: cfg > mode: key not found (deleted at revision 5)\n");
  EXPECT_EQ(ok("kv del cfg note --purge"), "Purged cfg > note\n");
  auto never = ferry("kv get cfg nothing");
  EXPECT_EQ(never.out, "ferry: cfg > nothing: key not found\n");
  EXPECT_EQ(ok("kv keys cfg"), "db.host\n");
  out = ok("kv ls");
  EXPECT_TRUE(has(out, "BUCKET  VALUES  HISTORY  TTL  BYTES\ncfg     ")) << out;
  EXPECT_TRUE(has(out, "  5        1h  ")) << out;

  // A watch prints the latest entry of each key (deletes included), then changes as they come.
  auto watch = std::async(std::launch::async, [&] { return ferry("kv watch cfg --count 4"); });
  std::this_thread::sleep_for(500ms);
  ok("kv put cfg live now");
  auto w = watch.get();
  EXPECT_EQ(w.code, 0) << w.out;
  EXPECT_TRUE(has(w.out, "] PUT cfg > db.host revision 2: beta\n")) << w.out;
  EXPECT_TRUE(has(w.out, "] DEL cfg > mode revision 5\n")) << w.out;
  EXPECT_TRUE(has(w.out, "] PURGE cfg > note revision 6\n")) << w.out;
  EXPECT_TRUE(has(w.out, "] PUT cfg > live revision 7: now\n")) << w.out;
  auto filtered = ok("kv watch cfg 'db.*' --count 1");
  EXPECT_TRUE(has(filtered, "] PUT cfg > db.host revision 2: beta\n")) << filtered;
  // The watch's ephemeral consumer is gone afterwards.
  EXPECT_EQ(ok("consumer ls KV_cfg"), "No consumers on stream KV_cfg\n");

  auto nobucket = ferry("kv put nope k v");
  EXPECT_EQ(nobucket.code, 1);
  EXPECT_EQ(nobucket.out, "ferry: bucket nope not found\n");
  EXPECT_EQ(ferry("kv get nope k").out, "ferry: bucket nope not found\n");
  auto badkey = ferry("kv put cfg 'bad key' v");
  EXPECT_EQ(badkey.code, 1);
  EXPECT_TRUE(has(badkey.out, "ferry: invalid key \"bad key\"")) << badkey.out;
  auto badpattern = ferry("kv watch cfg 'db*'");
  EXPECT_EQ(badpattern.code, 1);
  EXPECT_TRUE(has(badpattern.out, "invalid key pattern \"db*\"")) << badpattern.out;
}

TEST_F(FerryJs, DeadLetterMaxDeliverRoundTrip) {
  ok("stream add DLQ");
  ok("stream add JOBS --subjects 'jobs.>'");
  ok("consumer add JOBS worker --max-deliver 2 --ack-wait 300ms --dead-letter-stream DLQ");
  ok("pub jobs.email 'send it' -H Trace:abc --quiet");
  // Delivery 1 is negatively acknowledged, delivery 2 never acknowledged: the next
  // redelivery would be the third, so the message goes to DLQ instead.
  auto first = ok("consumer next JOBS worker --nak");
  EXPECT_TRUE(has(first, "delivery 1,")) << first;
  EXPECT_TRUE(has(first, "Negatively acknowledged")) << first;
  auto second = ok("consumer next JOBS worker --no-ack");
  EXPECT_TRUE(has(second, "delivery 2,")) << second;
  auto none = ferry("consumer next JOBS worker --timeout 2s");
  EXPECT_EQ(none.code, 1);
  EXPECT_EQ(none.out, "ferry: no message from consumer JOBS > worker within 2s\n");

  std::string out = ok("dlq ls DLQ");
  EXPECT_TRUE(has(out, "SEQ  ORIGIN  SUBJECT     REASON       DELIVERIES  CONSUMER  DEAD SINCE\n")) << out;
  EXPECT_TRUE(has(out, "1    JOBS#1  jobs.email  max_deliver  2           worker    20")) << out;
  out = ok("dlq show DLQ 1");
  EXPECT_TRUE(has(out, "Dead letter DLQ #1 (stored ")) << out;
  EXPECT_TRUE(has(out, "  Reason:              max_deliver\n")) << out;
  EXPECT_TRUE(has(out, "  Original stream:     JOBS\n  Original sequence:   1\n  Subject:             jobs.email\n"))
      << out;
  EXPECT_TRUE(has(out, "  Consumer:            worker\n  Deliveries:          2\n")) << out;
  EXPECT_TRUE(has(out, "Headers\n  Trace: abc\nPayload (7 bytes)\nsend it\n")) << out;

  // Replay: back on the original subject with the original headers only, then gone from DLQ.
  EXPECT_EQ(ok("dlq replay DLQ 1"), "Replayed dead letter DLQ #1 to \"jobs.email\" (stream JOBS seq 2); removed it\n");
  EXPECT_EQ(ok("dlq ls DLQ"), "No dead letters in stream DLQ\n");
  out = ok("stream get JOBS 2");
  EXPECT_TRUE(has(out, "Subject:  jobs.email\n")) << out;
  EXPECT_TRUE(has(out, "Headers:\n  Trace: abc\n\nsend it\n")) << out;
  EXPECT_FALSE(has(out, "Ferry-Dead-Letter")) << out;
  auto gone = ferry("dlq show DLQ 1");
  EXPECT_EQ(gone.code, 1);
  EXPECT_EQ(gone.out, "ferry: stream DLQ: no dead letter with sequence 1\n");

  // Terminated with a reason; replay --all --keep leaves it in place.
  auto term = ok("consumer next JOBS worker --term --reason 'bad address'");
  EXPECT_TRUE(has(term, "Terminated (no redelivery)")) << term;
  out = ok("dlq ls DLQ");
  EXPECT_TRUE(has(out, "2    JOBS#2  jobs.email  terminated: bad address  1           worker")) << out;
  EXPECT_EQ(ok("dlq replay DLQ --all --keep"), "Replayed dead letter DLQ #2 to \"jobs.email\" (stream JOBS seq 3)\n");
  EXPECT_TRUE(has(ok("dlq ls DLQ"), "2    JOBS#2  jobs.email  terminated: bad address")) << out;
  EXPECT_TRUE(has(ok("stream get JOBS 3 --raw"), "send it\n"));
  auto neither = ferry("dlq replay DLQ");
  EXPECT_EQ(neither.code, 1);
  EXPECT_EQ(neither.out, "ferry: give the sequences to replay, or --all\n");
  auto both = ferry("dlq replay DLQ 2 --all");
  EXPECT_NE(both.code, 0);
  EXPECT_TRUE(has(both.out, "excludes")) << both.out;
  auto nostream = ferry("dlq ls NOPE");
  EXPECT_EQ(nostream.out, "ferry: stream NOPE: stream not found\n");
}

TEST_F(FerryJs, StreamLevelDeadLetterStreamAndServerAfterSubcommand) {
  ok("stream add DLQ");
  std::string out = ok("stream add TASKS --subjects tasks --dead-letter-stream DLQ");
  EXPECT_TRUE(has(out, "  Dead-letter stream:  DLQ\n")) << out;
  // --server (like the other global options) may also follow the subcommand.
  const std::string url = "nats://127.0.0.1:" + std::to_string(port_);
  auto r = run(bin("ferry") + " consumer add TASKS t --server " + url);
  EXPECT_EQ(r.code, 0) << r.out;
  ok("pub tasks x --quiet");
  ok("consumer next TASKS t --term");
  EXPECT_TRUE(has(ok("dlq ls DLQ"), "1    TASKS#1  tasks    terminated  1           t"));
  // A dead-letter stream that does not exist is accepted, with a warning.
  out = ok("consumer add TASKS t2 --dead-letter-stream MISSING");
  EXPECT_TRUE(has(out,
                  "ferry: warning: dead-letter stream MISSING does not exist; dead letters are dropped until it "
                  "does\n"))
      << out;
  EXPECT_TRUE(has(out, "  Dead-letter stream:  MISSING\n")) << out;
}

TEST(FerryJsErrors, NoServerNoJetStreamAndBadFlags) {
  const int port = free_port();
  const std::string down = bin("ferry") + " -s nats://127.0.0.1:" + std::to_string(port);
  for (const char* cmd : {" stream ls", " consumer info S C", " kv get B K", " dlq ls DLQ", " stream info S --json"}) {
    auto r = run(down + cmd);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.out, "ferry: could not connect to nats://127.0.0.1:" + std::to_string(port) +
                         ": No server available for connection\n")
        << cmd;
  }
  child_process d;
  ASSERT_TRUE(d.start({ferryd_path(), "-p", std::to_string(port)}));
  ASSERT_TRUE(d.wait_for_port(port));
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  for (const char* cmd :
       {" stream ls", " stream add S", " consumer next S C", " kv put B K V", " dlq replay D --all"}) {
    auto r = run(down + cmd);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.out, "ferry: JetStream not enabled on " + url + "\n") << cmd;
  }
  // Argument errors come before connecting, and CLI11 reports bad flags.
  auto dur = run(down + " stream add S --max-age 5q");
  EXPECT_EQ(dur.code, 1);
  EXPECT_EQ(dur.out,
            "ferry: --max-age: invalid duration \"5q\": unknown unit \"q\" (use e.g. 500ms, 30s, 1m30s, 2h) (see ferry "
            "stream add --help)\n");
  auto size = run(down + " stream add S --max-bytes lots");
  EXPECT_EQ(size.out,
            "ferry: --max-bytes: invalid size \"lots\": no number (use e.g. 1024, 512K, 10MB, 1GiB, -1 for unlimited) "
            "(see ferry stream add --help)\n");
  auto storage = run(down + " stream add S --storage disk");
  EXPECT_NE(storage.code, 0);
  EXPECT_TRUE(has(storage.out, "--storage: disk not in {file,memory}")) << storage.out;
  auto unknown = run(down + " consumer add S C --frobnicate");
  EXPECT_NE(unknown.code, 0);
  EXPECT_TRUE(has(unknown.out, "--frobnicate")) << unknown.out;
  auto group = run(down + " kv");
  EXPECT_NE(group.code, 0);
  EXPECT_EQ(group.out,
            "ferry: \"ferry kv\" needs a command (one of: add, put, get, del, watch, ls, keys; see ferry kv "
            "--help)\n");
  for (const char* help : {" stream add --help", " consumer next --help", " kv watch --help", " dlq replay --help"}) {
    auto h = run(bin("ferry") + help);
    EXPECT_EQ(h.code, 0) << help;
    EXPECT_TRUE(has(h.out, "Usage:")) << help << h.out;
  }
  EXPECT_TRUE(has(run(bin("ferry") + " consumer add --help").out, "--dead-letter-stream"));
}

}  // namespace
}  // namespace ferry::test
