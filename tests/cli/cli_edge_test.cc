// The ferry CLI at its edges: every bad input is one line "ferry: ..." naming the bad part, with
// exit code 1 and before any connection is tried; and the conventions users bring from the nats
// CLI (NATS_URL, the payload on standard input, confirmation before purging, --version, unknown
// commands, global options in each command's help).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli_util.h"
#include "process.h"
#include "raw_client.h"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

TEST(FerryCliEdges, BadInputIsOneLineNamingItBeforeConnecting) {
  // Nothing listens here: an input that reached the network would say "could not connect".
  const std::string ferry = bin("ferry") + " -s nats://127.0.0.1:" + std::to_string(free_port());
  const struct {
    const char* args;
    const char* says;
  } table[] = {
      {"pub 'foo bar' x1", "invalid subject \"foo bar\": whitespace in token 1"},
      {"pub 'a b c' x", "invalid subject \"a b c\""},
      {"pub foo..bar x", "invalid subject \"foo..bar\": empty token 2"},
      {"pub foo. x", "invalid subject \"foo.\""},
      {"pub 'foo*' x", "wildcard character in token 1"},
      {"pub 'foo.*' x", "wildcard character in token 2"},
      {"pub 'foo.>' x", "wildcard character in token 2"},
      {"pub \"$(printf 'a\\r\\nPUB b 1')\" x", "invalid subject \"a\\r\\nPUB b 1\": control character"},
      {"pub foo x -r 'a b'", "--reply: invalid subject \"a b\""},
      {"pub foo x --count 0", "--count: invalid number \"0\""},
      {"pub foo x --count -3", "--count: invalid number \"-3\""},
      {"sub foo..bar", "invalid subject \"foo..bar\""},
      {"sub 'foo.>.bar'", "'>' must be the last token"},
      {"sub foo --count -5", "--count: invalid number \"-5\""},
      {"sub foo --count 1e3", "--count: invalid number \"1e3\""},
      {"sub foo -q 'a b'", "--queue: invalid subject \"a b\""},
      {"reply 'x y' ok", "invalid subject \"x y\""},
      {"request svc x --timeout .", "--timeout: invalid duration \".\""},
      {"request svc x --timeout 1.2.3s", "invalid duration \"1.2.3s\""},
      {"request svc x --timeout 99999999999999999999s", "invalid duration \"99999999999999999999s\": too large"},
      {"--connect-timeout . pub x y", "--connect-timeout: invalid duration \".\""},
      {"request 'a b' x", "invalid subject \"a b\""},
      {"stream add a.b", "invalid stream name \"a.b\": '.' is not allowed"},
      {"stream add 'BAD NAME'", "invalid stream name \"BAD NAME\": whitespace"},
      {"stream add 'a/b'", "invalid stream name \"a/b\": path separators"},
      {"stream add S --subjects 'a b'", "--subjects: invalid subject \"a b\""},
      {"stream add S --max-age 106752d", "--max-age: invalid duration \"106752d\": too large"},
      {"stream add S --max-bytes 9999999999T", "--max-bytes: invalid size \"9999999999T\": too large"},
      {"stream add S --max-msgs -2", "--max-msgs: invalid number \"-2\": must be at least -1"},
      {"stream info 'a*'", "invalid stream name \"a*\""},
      {"stream get ORDERS -1", "invalid number \"-1\": must be at least 1"},
      {"stream get ORDERS 0", "invalid number \"0\": must be at least 1"},
      {"stream get ORDERS --last-for 'a.*'", "--last-for: invalid subject \"a.*\""},
      {"stream purge ORDERS --keep -1", "--keep: invalid number \"-1\""},
      {"stream purge ORDERS --seq x", "--seq: invalid number \"x\""},
      {"consumer add S 'BAD NAME'", "invalid consumer name \"BAD NAME\""},
      {"consumer add a.b C", "invalid stream name \"a.b\""},
      {"consumer add S C --ack-wait 5q", "--ack-wait: invalid duration \"5q\""},
      {"consumer add S C --backoff 1s,x", "--backoff: invalid duration \"x\""},
      {"consumer add S C --filter 'a..b'", "--filter: invalid subject \"a..b\""},
      {"consumer info S a.b", "invalid consumer name \"a.b\""},
      {"consumer next S C --count -1", "--count: invalid number \"-1\""},
      {"kv get B K --revision -1", "--revision: invalid number \"-1\""},
      {"kv add B --ttl soon", "--ttl: invalid duration \"soon\""},
      {"dlq show D -3", "invalid number \"-3\""},
      {"dlq ls 'D D'", "invalid stream name \"D D\""},
      {"bench --size 1X", "--size: invalid size \"1X\""},
      {"bench --msgs -1", "--msgs: invalid number \"-1\""},
      {"bench --pub 0", "--pub: invalid number \"0\""},
      {"frobnicate", "unknown command \"frobnicate\" for \"ferry\""},
      {"stream frob", "unknown command \"frob\" for \"ferry stream\""},
      {"stream", "\"ferry stream\" needs a command"},
  };
  for (const auto& [args, says] : table) {
    auto r = run(ferry + " " + args);
    EXPECT_EQ(r.code, 1) << args << "\n" << r.out;  // 1, never a signal or an abort
    EXPECT_TRUE(r.out.starts_with("ferry: ")) << args << "\n" << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line: " << args << "\n" << r.out;
    EXPECT_TRUE(has(r.out, says)) << args << "\nwanted: " << says << "\ngot:    " << r.out;
    EXPECT_FALSE(has(r.out, "could not connect")) << args << " was checked only after connecting";
  }
}

class FerryCliConventions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("ferry-cli-edge-");
    port_ = free_port();
    url_ = "nats://127.0.0.1:" + std::to_string(port_);
    ASSERT_TRUE(d_.start({ferryd_path(), "-p", std::to_string(port_), "-js", "-sd", dir_ + "/store"}, dir_ + "/log"));
    ASSERT_TRUE(d_.wait_for_port(port_)) << slurp(dir_ + "/log");
    ferry_ = bin("ferry") + " -s " + url_;
  }
  void TearDown() override {
    d_.stop();
    fs::remove_all(dir_);
  }
  run_result ferry(const std::string& args) { return run(ferry_ + " " + args); }
  // A `ferry` child (sub or reply) whose output goes to `out`, once its subscription is in place.
  void start(child_process& c, const std::vector<std::string>& args, const std::string& out) {
    std::vector<std::string> argv{bin("ferry"), "-s", url_};
    argv.insert(argv.end(), args.begin(), args.end());
    ASSERT_TRUE(c.start(argv, out));
    for (int i = 0; i < 500 && !has(slurp(out), "on \""); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(has(slurp(out), "on \"")) << slurp(out);
  }

  child_process d_;
  std::string dir_, url_, ferry_;
  int port_ = 0;
};

TEST_F(FerryCliConventions, ServerFromNatsUrlAndFerryServer) {
  const std::string plain = bin("ferry");
  EXPECT_EQ(run("NATS_URL=" + url_ + " " + plain + " pub conv.a x").code, 0) << "NATS_URL, as the nats CLI reads it";
  EXPECT_EQ(run("NATS_URL=nats://127.0.0.1:1 FERRY_SERVER=" + url_ + " " + plain + " pub conv.a x").code, 0)
      << "FERRY_SERVER wins over NATS_URL";
  EXPECT_EQ(run("NATS_URL=nats://127.0.0.1:1 " + plain + " pub conv.a x -s " + url_).code, 0) << "-s wins over both";
  auto wrong = run("NATS_URL=nats://127.0.0.1:1 " + plain + " pub conv.a x");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_TRUE(has(wrong.out, "could not connect to nats://127.0.0.1:1")) << wrong.out;
}

TEST_F(FerryCliConventions, PayloadFromStandardInput) {
  child_process sub;
  start(sub, {"sub", "conv.>", "--count", "3"}, dir_ + "/sub.out");
  EXPECT_EQ(run("echo piped | " + ferry_ + " pub conv.a --quiet").code, 0);
  EXPECT_EQ(run("printf dash | " + ferry_ + " pub conv.b - --quiet").code, 0);
  EXPECT_EQ(ferry("pub conv.c --quiet").code, 0) << "no data and an empty stdin: an empty payload";
  sub.stop(5s);
  const std::string got = slurp(dir_ + "/sub.out");
  EXPECT_TRUE(has(got, "Received on \"conv.a\"\npiped\n\n")) << got;
  EXPECT_TRUE(has(got, "Received on \"conv.b\"\ndash\n\n")) << got;
  EXPECT_TRUE(has(got, "Received on \"conv.c\"\n\n\n")) << got;

  child_process rep;
  start(rep, {"reply", "conv.svc", "pong", "--count", "2"}, dir_ + "/rep.out");
  auto asked = run("echo question | " + ferry_ + " request conv.svc --raw");
  EXPECT_EQ(asked.code, 0) << asked.out;
  EXPECT_EQ(asked.out, "pong\n");
  auto dash = run("printf literal | " + ferry_ + " request conv.svc - --raw");
  EXPECT_EQ(dash.out, "pong\n");
  rep.stop(5s);
  const std::string requests = slurp(dir_ + "/rep.out");
  EXPECT_TRUE(has(requests, "question\n")) << requests;
  EXPECT_TRUE(has(requests, "literal")) << requests;
  EXPECT_FALSE(has(requests, "\n-\n")) << "\"-\" means standard input, not a payload of one dash";
}

TEST_F(FerryCliConventions, VersionHelpPurgeAndDeadLetters) {
  auto v = run(bin("ferry") + " --version");
  EXPECT_EQ(v.code, 0);
  EXPECT_TRUE(v.out.starts_with("ferry 0.")) << v.out;
  for (const char* help : {" pub --help", " stream add --help", " consumer next --help", " kv put --help"}) {
    auto h = run(bin("ferry") + help);
    EXPECT_EQ(h.code, 0) << help;
    EXPECT_TRUE(has(h.out, "Global options")) << help << "\n" << h.out;
    EXPECT_TRUE(has(h.out, "-s,--server")) << help;
    EXPECT_TRUE(has(h.out, "NATS_URL")) << help;
  }
  ASSERT_EQ(ferry("stream add ORDERS --subjects 'orders.>'").code, 0);
  ASSERT_EQ(ferry("pub orders.new x --count 3 --quiet").code, 0);
  auto refused = ferry("stream purge ORDERS");
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(refused.out, "ferry: not purging stream ORDERS without confirmation (use --force)\n");
  EXPECT_TRUE(has(ferry("stream info ORDERS").out, "Messages:            3")) << "nothing purged unasked";
  EXPECT_EQ(ferry("stream purge ORDERS --force").out, "Purged 3 messages from stream ORDERS\n");

  ASSERT_EQ(ferry("pub orders.new x --quiet").code, 0);
  auto not_dlq = ferry("dlq ls ORDERS");
  EXPECT_EQ(not_dlq.code, 1);
  EXPECT_TRUE(has(not_dlq.out, "stream ORDERS is not a dead-letter stream")) << not_dlq.out;
  auto missing = ferry("dlq ls NOPE");
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(has(missing.out, "not found")) << missing.out;
  ASSERT_EQ(ferry("stream add DLQ --subjects 'dead.>'").code, 0);
  ASSERT_EQ(ferry("consumer add ORDERS worker --max-deliver 2 --dead-letter-stream DLQ").code, 0);
  auto empty_dlq = ferry("dlq ls DLQ");
  EXPECT_EQ(empty_dlq.code, 0) << empty_dlq.out;
  EXPECT_EQ(empty_dlq.out, "No dead letters in stream DLQ\n");
}

TEST_F(FerryCliConventions, BenchChecksItsOptionsBeforeMeasuring) {
  auto csv = ferry("bench --msgs 100 --csv /nonexistent/dir/x.csv");
  EXPECT_EQ(csv.code, 1);
  EXPECT_TRUE(has(csv.out, "could not open --csv file /nonexistent/dir/x.csv")) << csv.out;
  EXPECT_FALSE(has(csv.out, "msgs/s")) << "refused before measuring";
  for (const char* subs : {"0", "1"}) {
    const auto t0 = std::chrono::steady_clock::now();
    auto big = ferry(std::string("bench --msgs 100 --size 2000000 --sub ") + subs);
    EXPECT_EQ(big.code, 1);
    EXPECT_EQ(big.out, "ferry: --size 2000000 exceeds the server's max_payload of 1048576 bytes\n");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "no hang with a subscriber";
  }
  const std::string file = dir_ + "/bench.csv";
  auto kb = ferry("bench --msgs 200 --size 1KB --sub 1 --csv " + file);
  EXPECT_EQ(kb.code, 0) << kb.out;
  EXPECT_TRUE(has(kb.out, "of 1024 bytes")) << kb.out;
  EXPECT_TRUE(has(slurp(file), "throughput,1,1,0,200,1024,")) << slurp(file);
}

}  // namespace
}  // namespace ferry::test
