#include "protocol/parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ferry::protocol {
namespace {

// Records every frame as text so that two ways of feeding the same bytes can be compared.
struct recorder {
  std::string log;
  bool stop_on_connect = false;
  bool on_connect(std::string_view j) {
    log += "CONNECT[" + std::string(j) + "]\n";
    return !stop_on_connect;
  }
  bool on_pub(const pub_frame& f) {
    log += (f.hpub ? "HPUB[" : "PUB[") + std::string(f.subject) + "|" + std::string(f.reply) + "|" +
           std::to_string(f.header_size) + "|" + std::string(f.data) + "]\n";
    // The two bytes after the data are the CRLF, so the frame tail can be copied in one go.
    EXPECT_EQ(std::string_view(f.data.data() + f.data.size(), 2), "\r\n");
    return true;
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) {
    log += "SUB[" + std::string(s) + "|" + std::string(q) + "|" + std::string(sid) + "]\n";
    return true;
  }
  bool on_unsub(std::string_view sid, std::int64_t max) {
    log += "UNSUB[" + std::string(sid) + "|" + std::to_string(max) + "]\n";
    return true;
  }
  bool on_ping() { log += "PING\n"; return true; }
  bool on_pong() { log += "PONG\n"; return true; }
  bool on_ok() { log += "OK\n"; return true; }
  bool on_info(std::string_view j) { log += "INFO[" + std::string(j) + "]\n"; return true; }
  bool on_err(std::string_view t) { log += "ERR[" + std::string(t) + "]\n"; return false; }
};

struct outcome {
  std::string log;
  parse_status status = parse_status::need_more;
  std::size_t buffered = 0;
};

// Feeds `chunks` in order, as separate reads, stopping at the first error.
outcome feed(const std::vector<std::string>& chunks, parser_limits limits = {},
             bool headers = true, bool require_connect = false) {
  parser p(limits);
  p.set_headers(headers);
  p.set_require_connect(require_connect);
  recorder r;
  outcome o;
  for (const std::string& c : chunks) {
    std::size_t off = 0;
    while (off < c.size()) {
      std::span<char> w = p.prepare();
      std::size_t n = std::min(w.size(), c.size() - off);
      std::memcpy(w.data(), c.data() + off, n);
      p.commit(n);
      off += n;
      o.status = p.process(r);
      if (o.status != parse_status::need_more) {
        o.log = r.log;
        return o;
      }
    }
  }
  o.log = r.log;
  o.buffered = p.buffered();
  return o;
}

outcome feed_whole(const std::string& s, parser_limits limits = {}) { return feed({s}, limits); }

std::vector<std::string> split_at(const std::string& s, std::vector<std::size_t> cuts) {
  std::vector<std::string> out;
  std::size_t prev = 0;
  for (std::size_t c : cuts) {
    out.push_back(s.substr(prev, c - prev));
    prev = c;
  }
  out.push_back(s.substr(prev));
  return out;
}

// One of every frame a client may send, with the variations the protocol allows.
const std::string session =
    "CONNECT {\"verbose\":false,\"headers\":true}\r\n"
    "PING\r\n"
    "pub foo 5\r\nhello\r\n"
    "PUB foo.bar _INBOX.1 0\r\n\r\n"
    "PUB\tfoo  \t reply  3\r\nabc\r\n"
    "HPUB h.s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "HPUB h.s inbox 0 2\r\nhi\r\n"
    "SUB foo 1\r\n"
    "sub foo.* workers 22\r\n"
    "UNSUB 1\r\n"
    "unsub 22 10\r\n"
    "PONG\r\n"
    "+OK\r\n"
    "INFO {\"x\":1}\r\n"
    "PUB bare 2\nhi\r\n"
    "PING\n"
    "PUB crlf.in.payload 4\r\n\r\n\r\n\r\n";

TEST(Parser, WholeSession) {
  outcome o = feed_whole(session);
  EXPECT_EQ(o.status, parse_status::need_more);
  EXPECT_EQ(o.buffered, 0u);
  EXPECT_EQ(o.log,
            "CONNECT[{\"verbose\":false,\"headers\":true}]\n"
            "PING\n"
            "PUB[foo||0|hello]\n"
            "PUB[foo.bar|_INBOX.1|0|]\n"
            "PUB[foo|reply|0|abc]\n"
            "HPUB[h.s||12|NATS/1.0\r\n\r\nhi]\n"
            "HPUB[h.s|inbox|0|hi]\n"
            "SUB[foo||1]\n"
            "SUB[foo.*|workers|22]\n"
            "UNSUB[1|-1]\n"
            "UNSUB[22|10]\n"
            "PONG\n"
            "OK\n"
            "INFO[{\"x\":1}]\n"
            "PUB[bare||0|hi]\n"
            "PING\n"
            "PUB[crlf.in.payload||0|\r\n\r\n]\n");
}

TEST(Parser, OneByteAtATime) {
  std::vector<std::string> bytes;
  for (char c : session) bytes.emplace_back(1, c);
  EXPECT_EQ(feed(bytes).log, feed_whole(session).log);
}

TEST(Parser, SplitAtEveryOffset) {
  const std::string want = feed_whole(session).log;
  for (std::size_t i = 0; i <= session.size(); ++i) {
    outcome o = feed(split_at(session, {i}));
    ASSERT_EQ(o.log, want) << "split at " << i;
    ASSERT_EQ(o.buffered, 0u);
  }
}

TEST(Parser, SplitAtEveryPairOfOffsets) {
  const std::string want = feed_whole(session).log;
  for (std::size_t i = 0; i <= session.size(); i += 3) {
    for (std::size_t j = i; j <= session.size(); j += 7) {
      ASSERT_EQ(feed(split_at(session, {i, j})).log, want) << "split at " << i << "," << j;
    }
  }
}

TEST(Parser, SeededRandomSplits) {
  const std::string want = feed_whole(session).log;
  std::mt19937 rng(20261123);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::size_t> cuts;
    std::uniform_int_distribution<std::size_t> d(0, session.size());
    const int n = static_cast<int>(rng() % 20);
    for (int k = 0; k < n; ++k) cuts.push_back(d(rng));
    std::sort(cuts.begin(), cuts.end());
    ASSERT_EQ(feed(split_at(session, cuts)).log, want) << "round " << round;
  }
}

TEST(Parser, LargePayloadAcrossManyReads) {
  std::string payload(1 << 20, 'x');
  payload[12345] = 'y';
  std::string frame = "PUB big 1048576\r\n" + payload + "\r\nPING\r\n";
  std::vector<std::string> chunks;
  for (std::size_t i = 0; i < frame.size(); i += 4000) chunks.push_back(frame.substr(i, 4000));
  outcome o = feed(chunks);
  EXPECT_EQ(o.status, parse_status::need_more);
  EXPECT_EQ(o.log, "PUB[big||0|" + payload + "]\nPING\n");
}

TEST(Parser, OpsAreCaseInsensitive) {
  EXPECT_EQ(feed_whole("PiNg\r\npOnG\r\nSuB a 1\r\nUnSuB 1\r\nhPuB a 0 0\r\n\r\n+ok\r\n").log,
            "PING\nPONG\nSUB[a||1]\nUNSUB[1|-1]\nHPUB[a||0|]\nOK\n");
}

TEST(Parser, PingAndPongIgnoreTrailingBytes) {
  EXPECT_EQ(feed_whole("PING extra\r\nPONGx\r\n").log, "PING\nPONG\n");
}

TEST(Parser, ConnectWithoutSpace) {
  EXPECT_EQ(feed_whole("CONNECT{}\r\n").log, "CONNECT[{}]\n");
}

TEST(Parser, PayloadMustEndWithCrlf) {
  EXPECT_EQ(feed_whole("PUB foo 2\r\nhi\n").status, parse_status::need_more);  // waiting for 1 more
  EXPECT_EQ(feed_whole("PUB foo 2\r\nhi\nxx").status, parse_status::unknown_op);
  EXPECT_EQ(feed_whole("PUB foo 2\r\nhix\r\n").status, parse_status::unknown_op);
  EXPECT_EQ(feed_whole("PUB foo 2\r\nhi\rx").status, parse_status::unknown_op);
}

TEST(Parser, UnknownOperations) {
  for (const char* s : {"\r\n", "MSG foo 1 2\r\nhi\r\n", "XYZ\r\n", "PUBX foo 1\r\n", "PUB\r\n",
                        "PIN\r\n", "SUBS foo 1\r\n", "UNSUB\r\n", "-ERRx\r\n", "+O\r\n",
                        "HMSG a 1 0 0\r\n", "RS+ foo\r\n", "LS+ foo\r\n", "A+ foo\r\n"}) {
    EXPECT_EQ(feed_whole(s).status, parse_status::unknown_op) << s;
  }
}

TEST(Parser, BadArgumentsCloseWithoutError) {
  for (const char* s : {"PUB foo\r\n", "PUB foo bar baz 1\r\n", "PUB foo -1\r\n", "PUB foo x\r\n",
                        "PUB foo 1234567890\r\n", "PUB \r\n", "SUB foo\r\n", "SUB a b c d\r\n",
                        "UNSUB 1 2 3\r\n", "HPUB foo 5 3\r\n", "HPUB foo 3\r\n",
                        "HPUB foo -1 3\r\n", "UNSUB \r\n"}) {
    EXPECT_EQ(feed_whole(s).status, parse_status::bad_arguments) << s;
  }
}

TEST(Parser, MalformedUnsubMaxMeansNone) {
  EXPECT_EQ(feed_whole("UNSUB 1 x\r\nUNSUB 2 -5\r\n").log, "UNSUB[1|-1]\nUNSUB[2|-1]\n");
}

TEST(Parser, SizesAcceptLeadingZeros) {
  EXPECT_EQ(feed_whole("PUB foo 01\r\nx\r\n").log, "PUB[foo||0|x]\n");
}

TEST(Parser, MaxPayloadIsCheckedOnTheControlLine) {
  parser_limits l;
  l.max_payload = 10;
  // The payload has not arrived, yet the violation is reported at once.
  EXPECT_EQ(feed_whole("PUB foo 11\r\n", l).status, parse_status::payload_too_large);
  EXPECT_EQ(feed_whole("HPUB foo 2 11\r\n", l).status, parse_status::payload_too_large);
  EXPECT_EQ(feed_whole("PUB foo 10\r\n0123456789\r\n", l).log, "PUB[foo||0|0123456789]\n");
}

TEST(Parser, MaxControlLine) {
  parser_limits l;
  l.max_control_line = 100;
  const std::string subject(120, 'a');
  EXPECT_EQ(feed_whole("SUB " + subject + " 1\r\n", l).status, parse_status::control_line_too_long);
  // Split across reads: detected before the line ends.
  EXPECT_EQ(feed({"SUB " + subject, std::string(100, 'b')}, l).status,
            parse_status::control_line_too_long);
  // A line without a newline that keeps growing is cut off.
  EXPECT_EQ(feed_whole(std::string(1000, 'P'), l).status, parse_status::control_line_too_long);
  EXPECT_EQ(feed_whole("SUB " + std::string(90, 'a') + " 1\r\n", l).status, parse_status::need_more);
}

TEST(Parser, RequireConnectFirst) {
  EXPECT_EQ(feed({"PING\r\n"}, {}, true, true).status, parse_status::auth_required);
  outcome o = feed({"CONNECT {}\r\nPING\r\n"}, {}, true, true);
  EXPECT_EQ(o.status, parse_status::need_more);
  EXPECT_EQ(o.log, "CONNECT[{}]\nPING\n");
}

TEST(Parser, HpubNeedsHeaders) {
  EXPECT_EQ(feed({"HPUB a 0 0\r\n\r\n"}, {}, false).status, parse_status::headers_not_supported);
}

TEST(Parser, HandlerCanStop) {
  parser p;
  recorder r;
  r.stop_on_connect = true;
  std::string s = "CONNECT {}\r\nPING\r\n";
  std::span<char> w = p.prepare();
  std::memcpy(w.data(), s.data(), s.size());
  p.commit(s.size());
  EXPECT_EQ(p.process(r), parse_status::stopped);
  EXPECT_EQ(r.log, "CONNECT[{}]\n");
}

TEST(Parser, ErrFromClientIsReported) {
  outcome o = feed_whole("-ERR 'boom'\r\nPING\r\n");
  EXPECT_EQ(o.status, parse_status::stopped);
  EXPECT_EQ(o.log, "ERR['boom']\n");
}

// Frames larger than the first reads, arriving back to back: the read size must grow so that
// a frame does not take many reads (which re-scan its control line each time).
TEST(Parser, ReadSizeGrowsUnderAStream) {
  parser p;
  p.set_headers(true);
  recorder r;
  const std::string frame = "PUB s 1024\r\n" + std::string(1024, 'x') + "\r\n";
  std::string stream;
  for (int i = 0; i < 2000; ++i) stream += frame;
  std::size_t off = 0;
  int reads = 0;
  while (off < stream.size()) {
    std::span<char> w = p.prepare();
    const std::size_t n = std::min(w.size(), stream.size() - off);
    std::memcpy(w.data(), stream.data() + off, n);
    p.commit(n);
    off += n;
    ++reads;
    ASSERT_EQ(p.process(r), parse_status::need_more);
  }
  EXPECT_LT(reads, 100) << "2 MB should take a few dozen reads at most";
  EXPECT_EQ(std::count(r.log.begin(), r.log.end(), '\n'), 2000);
}

TEST(ParseSize, Digits) {
  EXPECT_EQ(parse_size("0"), 0);
  EXPECT_EQ(parse_size("123456789"), 123456789);
  EXPECT_EQ(parse_size("1234567890"), -1);
  EXPECT_EQ(parse_size(""), -1);
  EXPECT_EQ(parse_size("1a"), -1);
  EXPECT_EQ(parse_size("-1"), -1);
}

}  // namespace
}  // namespace ferry::protocol
