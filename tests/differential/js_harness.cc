#include "js_harness.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

namespace ferry::test::jsdiff {

namespace {

using json = nlohmann::json;

const std::set<std::string>& timestamp_keys() {
  static const std::set<std::string> k = {"created", "ts",          "first_ts",      "last_ts",
                                          "time",    "last_active", "opt_start_time"};
  return k;
}

bool is_rfc3339_utc(const std::string& s) {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)");
  return std::regex_match(s, re);
}

void mask_json(json& j, const std::set<std::string>& extra) {
  if (j.is_array()) {
    for (auto& e : j) mask_json(e, extra);
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    json& v = it.value();
    if (extra.count(k) != 0) {
      v = "<masked>";
    } else if (timestamp_keys().count(k) != 0 && v.is_string()) {
      const std::string s = v.get<std::string>();
      if (s != "0001-01-01T00:00:00Z" && is_rfc3339_utc(s)) v = "<ts>";
    } else if (k == "api" && v.is_object()) {
      for (auto a = v.begin(); a != v.end(); ++a) {
        if (a.value().is_number()) a.value() = "<n>";
      }
    } else {
      mask_json(v, extra);
    }
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& t, char sep) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i > 0) out += sep;
    out += t[i];
  }
  return out;
}

// $JS.ACK.<stream>.<consumer>.<dlv>.<sseq>.<cseq>.<ts>.<pending>: the timestamp token;
// $JS.FC.<stream>.<consumer>.<rnd>: the random token.
std::string mask_subject(const std::string& s) {
  auto t = split(s, '.');
  if (t.size() == 9 && t[0] == "$JS" && t[1] == "ACK") t[7] = "<ts>";
  if (t.size() == 5 && t[0] == "$JS" && t[1] == "FC") t[4] = "<rnd>";
  return join(t, '.');
}

std::string escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 32 || c >= 127) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string mask_headers(const std::string& h) {
  std::string out;
  std::size_t pos = 0;
  while (pos < h.size()) {
    std::size_t eol = h.find("\r\n", pos);
    if (eol == std::string::npos) eol = h.size();
    std::string line = h.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) continue;
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      const std::string name = line.substr(0, colon);
      if (name == "Nats-Time-Stamp") line = name + ": <ts>";
      if (name == "Nats-Consumer-Stalled") line = name + ": " + mask_subject(line.substr(colon + 2));
    }
    out += "  " + escape(line) + "\n";
  }
  return out;
}

}  // namespace

std::string frame::header(const std::string& name) const {
  const std::string key = "\r\n" + name + ": ";
  const std::size_t at = headers.find(key);
  if (at == std::string::npos) return {};
  const std::size_t start = at + key.size();
  return headers.substr(start, headers.find("\r\n", start) - start);
}

std::string canonical(const frame& f, const std::set<std::string>& extra) {
  std::string out = f.op + " " + f.subject + " " + f.sid;
  if (f.empty_reply) {
    out += " ''";
  } else if (!f.reply.empty()) {
    out += " " + mask_subject(f.reply);
  }
  out += "\n";
  if (f.op == "HMSG") out += mask_headers(f.headers);
  if (f.payload.empty()) return out;
  json j = json::parse(f.payload, nullptr, false);
  if (!j.is_discarded() && (j.is_object() || j.is_array())) {
    mask_json(j, extra);
    out += "  " + j.dump() + "\n";
  } else {
    out += "  [" + escape(f.payload) + "]\n";
  }
  return out;
}

bool session::open(int port, const std::vector<std::string>& subs) {
  if (!c_.connect(port)) return false;
  std::string setup =
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\n"
      "SUB _INBOX.x.* 1\r\n";
  for (const auto& s : subs) setup += s + "\r\n";
  setup += "PING\r\n";
  if (!c_.send(setup) || !c_.read_until("PONG\r\n", std::chrono::seconds(5))) return false;
  buf_ = c_.take();
  buf_.erase(0, buf_.find("PONG\r\n") + 6);
  return true;
}

void session::send(const std::string& bytes) { c_.send(bytes); }

bool session::pump(std::chrono::steady_clock::time_point deadline) {
  // Parse whatever is buffered first.
  bool parsed = false;
  for (;;) {
    const std::size_t eol = buf_.find("\r\n");
    if (eol == std::string::npos) break;
    const std::string line = buf_.substr(0, eol);
    if (line.rfind("MSG ", 0) == 0 || line.rfind("HMSG ", 0) == 0) {
      auto tok = split(line, ' ');
      frame f;
      f.op = tok[0];
      const bool h = f.op == "HMSG";
      const std::size_t total = std::stoul(tok.back());
      const std::size_t hsize = h ? std::stoul(tok[tok.size() - 2]) : 0;
      if (buf_.size() < eol + 2 + total + 2) break;
      f.subject = tok[1];
      f.sid = tok[2];
      const std::size_t args = tok.size() - (h ? 5 : 4);  // reply tokens between sid and sizes
      if (args == 1) {
        f.reply = tok[3];
        f.empty_reply = f.reply.empty();
      }
      f.headers = buf_.substr(eol + 2, hsize);
      f.payload = buf_.substr(eol + 2 + hsize, total - hsize);
      buf_.erase(0, eol + 2 + total + 2);
      queue_.push_back(std::move(f));
      parsed = true;
      continue;
    }
    buf_.erase(0, eol + 2);
    if (line == "PING") {
      c_.send("PONG\r\n");
    } else if (line != "PONG" && line != "+OK") {
      frame f;
      f.op = "LINE";
      f.payload = line;
      queue_.push_back(std::move(f));
      parsed = true;
    }
  }
  if (parsed) return true;
  const auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{c_.fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char tmp[65536];
  const ssize_t n = ::recv(c_.fd(), tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

std::vector<frame> session::collect(const std::string& subject, std::size_t n, ms wait) {
  return collect_if([&](const frame& f) { return f.subject == subject; }, n, wait);
}

std::vector<frame> session::collect_sid(const std::string& sid, std::size_t n, ms wait) {
  return collect_if([&](const frame& f) { return f.sid == sid; }, n, wait);
}

std::vector<frame> session::collect_if(const std::function<bool(const frame&)>& match, std::size_t n, ms wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<frame> out;
  for (;;) {
    for (auto it = queue_.begin(); it != queue_.end() && out.size() < n;) {
      if (match(*it)) {
        out.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (out.size() >= n) return out;
    if (!pump(deadline) && std::chrono::steady_clock::now() >= deadline) return out;
  }
}

std::vector<frame> session::drain(ms wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) pump(deadline);
  std::vector<frame> out(queue_.begin(), queue_.end());
  queue_.clear();
  return out;
}

std::string recorder::inbox() { return "_INBOX.x." + std::to_string(next_++); }

void recorder::record(const std::string& label, const std::vector<frame>& frames, const std::set<std::string>& masks) {
  std::string text;
  for (const frame& f : frames) text += canonical(f, masks);
  if (frames.empty()) text = "(nothing)\n";
  t_.emplace_back(label, text);
}

std::vector<frame> recorder::req(const std::string& subject, const std::string& body, ms wait,
                                 const std::set<std::string>& masks) {
  const std::string to = inbox();
  s_.send("PUB " + subject + " " + to + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
  auto got = s_.collect(to, 1, wait);
  record(subject + " " + body, got, masks);
  return got;
}

std::vector<frame> recorder::hreq(const std::string& subject, const std::vector<std::string>& hdrs,
                                  const std::string& body, ms wait) {
  const std::string to = inbox();
  std::string h = "NATS/1.0\r\n";
  for (const auto& l : hdrs) h += l + "\r\n";
  h += "\r\n";
  s_.send("HPUB " + subject + " " + to + " " + std::to_string(h.size()) + " " + std::to_string(h.size() + body.size()) +
          "\r\n" + h + body + "\r\n");
  auto got = s_.collect(to, 1, wait);
  record("HPUB " + subject + " [" + join(hdrs, '|') + "] " + body, got);
  return got;
}

void recorder::pub(const std::string& subject, const std::string& body) {
  s_.send("PUB " + subject + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
}

std::vector<frame> recorder::pull(const std::string& stream, const std::string& consumer, const std::string& body,
                                  std::size_t n, ms wait) {
  const int id = next_pull_++;
  const std::string to = "_INBOX.p." + std::to_string(id);
  const std::string sid = std::to_string(100 + id);
  const std::string subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + consumer;
  s_.send("SUB " + to + " " + sid + "\r\nPUB " + subject + " " + to + " " + std::to_string(body.size()) + "\r\n" +
          body + "\r\n");
  auto got = s_.collect_sid(sid, n, wait);
  record("pull " + stream + "." + consumer + " " + body, got);
  return got;
}

void recorder::ack(const frame& f, const std::string& body, bool want_reply) {
  if (f.reply.empty()) {
    t_.emplace_back("ack " + body, "[frame has no ack subject]\n");
    return;
  }
  if (!want_reply) {
    s_.send("PUB " + f.reply + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
    return;
  }
  const std::string to = inbox();
  s_.send("PUB " + f.reply + " " + to + " " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
  record("ack " + mask_subject(f.reply) + " " + body, s_.collect(to, 1, ms(1000)));
}

std::vector<frame> recorder::expect(const std::string& sid, std::size_t n, ms wait, const std::string& label) {
  auto got = s_.collect_sid(sid, n, wait);
  record(label, got);
  return got;
}

void recorder::leftovers(ms wait) { record("leftovers", s_.drain(wait)); }

void recorder::discard(ms wait) { s_.drain(wait); }

void recorder::sleep(ms d) { std::this_thread::sleep_for(d); }

bool server_pair::start(const std::vector<std::string>& extra) {
  dir = make_temp_dir("ferry-jsdiff-");
  nats_port = free_port();
  ferryd_port = free_port();
  std::vector<std::string> a = {"nats-server", "-a",  "127.0.0.1",  "-p", std::to_string(nats_port),
                                "-js",         "-sd", dir + "/nats"};
  std::vector<std::string> b = {ferryd_path(), "-a",  "127.0.0.1",    "-p", std::to_string(ferryd_port),
                                "-js",         "-sd", dir + "/ferryd"};
  a.insert(a.end(), extra.begin(), extra.end());
  b.insert(b.end(), extra.begin(), extra.end());
  return nats.start(a, dir + "/nats.log") && ferryd.start(b, dir + "/ferryd.log") && nats.wait_for_port(nats_port) &&
         ferryd.wait_for_port(ferryd_port);
}

server_pair::~server_pair() {
  nats.stop();
  ferryd.stop();
  if (!dir.empty()) std::filesystem::remove_all(dir);
}

void compare(const std::function<void(recorder&)>& script, const std::vector<std::string>& subs) {
  if (!have_program("nats-server")) GTEST_SKIP() << "nats-server is not installed (make deps installs it)";
  server_pair p;
  ASSERT_TRUE(p.start()) << "could not start both servers";
  auto run = [&](int port) {
    session s;
    EXPECT_TRUE(s.open(port, subs));
    recorder r(s);
    script(r);
    r.leftovers();
    return r.transcript();
  };
  const auto want = run(p.nats_port);
  const auto got = run(p.ferryd_port);
  if (std::getenv("JSDIFF_DUMP") != nullptr) {  // both transcripts, side by side, for debugging
    for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
      std::printf("--- step %zu: %s\n[nats-server]\n%s[ferryd]\n%s", i + 1,
                  i < want.size() ? want[i].first.c_str() : got[i].first.c_str(),
                  i < want.size() ? want[i].second.c_str() : "(none)\n",
                  i < got.size() ? got[i].second.c_str() : "(none)\n");
    }
  }
  ASSERT_EQ(got.size(), want.size()) << "the scripts took different paths";
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].second, want[i].second)
        << "step " << i + 1 << ": " << want[i].first << "\n(ferryd's reply first, then nats-server's)";
  }
}

}  // namespace ferry::test::jsdiff
