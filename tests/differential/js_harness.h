// Harness for the JetStream differential test (js_differential_test.cc): one scripted session
// runs against Debian's nats-server (-js) and then against ferryd (-js), each reply is recorded
// in a canonical, masked form, and the two transcripts are compared step by step.
//
// Canonical form of a received frame (see canonical() in js_harness.cc):
//   <MSG|HMSG> <subject> <sid> [<reply>|''] then the header block and the payload.
//   - '' marks nats-server's "empty reply-to" framing ("MSG subj 1  28": two spaces), which it uses
//     for every frame it generates internally without a reply (PubAcks, pull statuses, DIRECT.GET).
//   - Sizes are left out (they change with masked timestamps).
//   - A JSON payload is parsed and printed again with sorted keys (replies are compared as parsed
//     JSON, not bytes); any other payload is printed byte for byte.
//
// Masks (everything else must match exactly):
//   - Timestamps: the JSON keys created, ts, first_ts, last_ts, time, last_active and
//     opt_start_time become "<ts>" when they hold an RFC 3339 UTC time other than Go's zero time
//     (0001-01-01T00:00:00Z is kept, so an emitted zero time must match too; anything that is not
//     RFC 3339 is kept and shows up as a difference).
//   - "api":{"total","errors"} of account_info_response: nats-server also counts requests ferryd
//     answers differently on purpose (the domain-less $JS.<domain>.API prefix, audit advisories),
//     so the counters are masked; their presence is still compared.
//   - The timestamp token of $JS.ACK.<stream>.<consumer>.<dlv>.<sseq>.<cseq>.<ts>.<pending> reply
//     subjects, the random last token of $JS.FC.<stream>.<consumer>.<rnd> subjects (also inside a
//     Nats-Consumer-Stalled header), and the value of the Nats-Time-Stamp header.
//   - Per step, extra JSON keys a script names (server-generated ephemeral consumer names).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "process.h"
#include "raw_client.h"

namespace ferry::test::jsdiff {

using ms = std::chrono::milliseconds;

struct frame {
  std::string op;  // MSG or HMSG
  std::string subject, sid, reply;
  bool empty_reply = false;  // "MSG subj sid  size": an empty reply token
  std::string headers;       // the header block as received (HMSG)
  std::string payload;
  // The value of header `name` (first occurrence), "" when absent.
  [[nodiscard]] std::string header(const std::string& name) const;
};

// The masked text of a frame (see the file comment). `extra` names more JSON keys to mask.
std::string canonical(const frame& f, const std::set<std::string>& extra = {});

// One client connection: CONNECT (headers, no_responders), SUB _INBOX.x.* 1, more SUBs.
class session {
 public:
  bool open(int port, const std::vector<std::string>& subs);
  void send(const std::string& bytes);
  // Up to n frames addressed to `subject` (other frames stay queued), waiting at most `wait`.
  std::vector<frame> collect(const std::string& subject, std::size_t n, ms wait);
  // The same by subscription id: JetStream deliveries carry the message's own subject and the
  // sid of the subscription on the deliver (or pull reply) subject.
  std::vector<frame> collect_sid(const std::string& sid, std::size_t n, ms wait);
  // Every queued frame plus whatever arrives within `wait`.
  std::vector<frame> drain(ms wait);

 private:
  bool pump(std::chrono::steady_clock::time_point deadline);
  std::vector<frame> collect_if(const std::function<bool(const frame&)>& match, std::size_t n, ms wait);
  raw_client c_;
  std::string buf_;
  std::deque<frame> queue_;
};

// What a script talks to. Each call sends one request, waits for its reply frames and appends a
// labelled entry to transcript().
class recorder {
 public:
  explicit recorder(session& s) : s_(s) {}
  // API request with a fresh inbox; waits for one reply (`wait` when none is expected).
  std::vector<frame> req(const std::string& subject, const std::string& body, ms wait = ms(2000),
                         const std::set<std::string>& masks = {});
  // Request with headers: `hdrs` is a list of "Name: value" lines (no status line).
  std::vector<frame> hreq(const std::string& subject, const std::vector<std::string>& hdrs, const std::string& body,
                          ms wait = ms(2000));
  // PUB without reply (nothing recorded).
  void pub(const std::string& subject, const std::string& body);
  // $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> with its own reply subscription
  // (_INBOX.p.<n>, sid 100+n, kept): records up to n frames, waiting at most `wait`.
  std::vector<frame> pull(const std::string& stream, const std::string& consumer, const std::string& body,
                          std::size_t n, ms wait);
  // The subscription id of the latest pull()'s reply subject (for expect()).
  [[nodiscard]] std::string last_pull_sid() const { return std::to_string(100 + next_pull_ - 1); }
  // Acknowledges `f` with `body`; with want_reply, records the ack-ack reply (or its absence).
  void ack(const frame& f, const std::string& body, bool want_reply = true);
  // Records up to n frames on subscription `sid` (a SUB given to open()).
  std::vector<frame> expect(const std::string& sid, std::size_t n, ms wait, const std::string& label);
  // Records whatever is still queued or arrives within `wait` (should normally be nothing).
  void leftovers(ms wait = ms(300));
  // Drops whatever is queued or arrives within `wait` without recording it (heartbeats).
  void discard(ms wait = ms(100));
  void sleep(ms d);
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& transcript() const { return t_; }

 private:
  std::string inbox();
  void record(const std::string& label, const std::vector<frame>& frames, const std::set<std::string>& masks = {});
  session& s_;
  int next_ = 1;
  int next_pull_ = 1;
  std::vector<std::pair<std::string, std::string>> t_;
};

// Debian's nats-server and ferryd, both with -js and their own temporary store directory.
struct server_pair {
  child_process nats, ferryd;
  int nats_port = 0, ferryd_port = 0;
  std::string dir;
  bool start(const std::vector<std::string>& extra = {});
  ~server_pair();
};

// Runs `script` against nats-server and then ferryd (fresh servers each call) and compares the
// transcripts step by step. `subs` are extra SUB lines ("SUB push.a 2").
void compare(const std::function<void(recorder&)>& script, const std::vector<std::string>& subs = {});

}  // namespace ferry::test::jsdiff
