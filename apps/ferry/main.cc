// ferry: the command-line client for ferryd (or any NATS server), built on nats.c.
#include <nats/nats.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "checks.h"
#include "commands.h"

namespace {

using namespace ferry::cli;
using ferry::subject_use;

// "Global options" under every command's help: CLI11 shows only a command's own options.
void add_global_help(CLI::App& app) {
  std::string text = "Global options (before or after the command):\n";
  for (const CLI::Option* o : app.get_options()) {
    const std::string name = o->get_name(false, true);
    if (name == "-h,--help" || name == "--version") continue;
    text += "  " + name + std::string(name.size() < 26 ? 26 - name.size() : 1, ' ') + o->get_description() + "\n";
  }
  std::vector<CLI::App*> todo = app.get_subcommands({});
  while (!todo.empty()) {
    CLI::App* sub = todo.back();
    todo.pop_back();
    sub->footer(text);
    for (CLI::App* child : sub->get_subcommands({})) todo.push_back(child);
  }
}

// The deepest command given on the command line ("ferry stream add": the "add" command).
CLI::App* deepest(CLI::App& app) {
  CLI::App* at = &app;
  for (;;) {
    auto given = at->get_subcommands();
    if (given.empty()) return at;
    at = given.front();
  }
}

std::string command_path(const CLI::App* at) {
  std::string path;
  for (; at != nullptr; at = at->get_parent()) {
    path = (at->get_parent() == nullptr ? "ferry" : at->get_name()) + (path.empty() ? "" : " " + path);
  }
  return path;
}

// Parses the command line; on a mistake prints one line "ferry: ..." and returns its exit code.
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    CLI::App* at = deepest(app);
    if (at->get_require_subcommand_min() > 0 && at->get_subcommands().empty()) {
      std::vector<std::string> extra = at->remaining();
      if (extra.empty()) extra = app.remaining();  // what fell through to the top
      std::string names;
      for (const CLI::App* s : at->get_subcommands({})) names += (names.empty() ? "" : ", ") + s->get_name();
      if (!extra.empty() && !extra.front().starts_with("-")) {
        return fail("unknown command \"" + extra.front() + "\" for \"" + command_path(at) + "\" (one of: " + names +
                    ")");
      }
      return fail("\"" + command_path(at) + "\" needs a command (one of: " + names + "; see " + command_path(at) +
                  " --help)");
    }
    return fail(std::string(e.what()) + " (see " + command_path(at) + " --help)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferry: publish, subscribe, request, benchmark and manage JetStream on ferryd or any NATS server"};
  app.require_subcommand(1);
  // Global options (--server, ...) may also follow the subcommand.
  app.fallthrough();
  app.set_version_flag("--version", std::string("ferry ") + FERRY_VERSION);
  connect_options conn;
  // The nats CLI's variable, and ours, which wins when both are set.
  if (const char* env = std::getenv("NATS_URL"); env != nullptr && *env != '\0') conn.server = env;
  if (const char* env = std::getenv("FERRY_SERVER"); env != nullptr && *env != '\0') conn.server = env;
  std::string timeout = "2s";
  app.add_option("-s,--server", conn.server, "Server URL(s), comma-separated (env FERRY_SERVER, NATS_URL)")
      ->capture_default_str();
  app.add_option("--user", conn.user, "User name");
  app.add_option("--password", conn.password, "Password");
  app.add_option("--token", conn.token, "Authentication token");
  app.add_option("--tlsca", conn.tls_ca, "CA certificate to verify the server (enables TLS)");
  app.add_option("--tlscert", conn.tls_cert, "Client certificate (enables TLS)");
  app.add_option("--tlskey", conn.tls_key, "Client certificate key");
  app.add_option("--connect-timeout", timeout, "How long to wait for the server")
      ->check(duration_arg())
      ->capture_default_str();

  pub_args pa;
  auto* pub = app.add_subcommand("pub", "Publish a message (DATA may contain {{Count}} and {{Time}})");
  pub->add_option("subject", pa.subject, "Subject")->required()->check(subject_arg(subject_use::publish));
  pub->add_option("data", pa.data, "Payload (none or -: read from standard input)");
  pub->add_option("-c,--count", pa.count, "Number of messages")->check(count_arg(1))->capture_default_str();
  pub->add_option("-H,--header", pa.headers, "Header Key:Value (repeatable)");
  pub->add_option("-r,--reply", pa.reply, "Reply subject")->check(subject_arg(subject_use::publish));
  pub->add_flag("-q,--quiet", pa.quiet, "Print nothing on success");

  sub_args sa;
  auto* sub = app.add_subcommand("sub", "Subscribe and print messages");
  sub->add_option("subject", sa.subject, "Subject (wildcards * and > allowed)")
      ->required()
      ->check(subject_arg(subject_use::subscribe));
  sub->add_option("-q,--queue", sa.queue, "Queue group")->check(subject_arg(subject_use::subscribe));
  sub->add_option("-c,--count", sa.count, "Exit after this many messages (0: never)")
      ->check(count_arg())
      ->capture_default_str();
  sub->add_flag("--raw", sa.raw, "Print only the payloads");

  request_args ra;
  auto* req = app.add_subcommand("request", "Send a request and print the reply");
  req->alias("req");
  req->add_option("subject", ra.subject, "Subject")->required()->check(subject_arg(subject_use::publish));
  req->add_option("data", ra.data, "Payload (none or -: read from standard input)");
  req->add_option("-t,--timeout", ra.timeout, "How long to wait for a reply")
      ->check(duration_arg())
      ->capture_default_str();
  req->add_option("-H,--header", ra.headers, "Header Key:Value (repeatable)");
  req->add_flag("--raw", ra.raw, "Print only the reply payload");

  reply_args ya;
  auto* rep = app.add_subcommand("reply", "Answer requests with a fixed response (may contain {{Count}})");
  rep->add_option("subject", ya.subject, "Subject")->required()->check(subject_arg(subject_use::subscribe));
  rep->add_option("response", ya.response, "Response payload")->required();
  rep->add_option("-q,--queue", ya.queue, "Queue group")->check(subject_arg(subject_use::subscribe));
  rep->add_option("-c,--count", ya.count, "Exit after this many requests (0: never)")
      ->check(count_arg())
      ->capture_default_str();
  rep->add_flag("--quiet", ya.quiet, "Do not print requests");

  bench_args ba;
  auto* bench = app.add_subcommand("bench", "Measure throughput or request/reply latency");
  bench->add_option("subject", ba.subject, "Subject")->check(subject_arg(subject_use::publish))->capture_default_str();
  bench->add_option("--pub", ba.pubs, "Publishers (or requesters), one connection each")
      ->check(count_arg(1))
      ->capture_default_str();
  bench->add_option("--sub", ba.subs, "Subscribers (or responders), one connection each")
      ->check(count_arg())
      ->capture_default_str();
  bench->add_option("--msgs", ba.msgs, "Messages (or requests) in all")->check(count_arg(1))->capture_default_str();
  bench->add_option("--size", ba.size, "Payload size, e.g. 128, 1KB, 64KiB")
      ->transform(size_arg(false))
      ->capture_default_str();
  bench->add_flag("--request", ba.request, "Request/reply latency instead of throughput");
  bench->add_flag("--queue", ba.queue, "Subscribers form one queue group");
  bench->add_option("--csv", ba.csv, "Append the result row to this CSV file");

  command_list js_commands;
  add_stream_commands(app, conn, js_commands);
  add_consumer_commands(app, conn, js_commands);
  add_kv_commands(app, conn, js_commands);
  add_dlq_commands(app, conn, js_commands);
  add_global_help(app);

  if (auto code = parse(app, argc, argv)) return *code;
  auto t = parse_duration(timeout);
  if (!t.is_ok()) return fail(t.status().message());
  conn.timeout = *t;
  // One thread for libnats' internal timers and callbacks is enough for a CLI.
  nats_Open(-1);
  int rc = 1;
  if (*pub) rc = run_pub(conn, pa, pub->count("data") > 0);
  if (*sub) rc = run_sub(conn, sa);
  if (*req) rc = run_request(conn, ra, req->count("data") > 0);
  if (*rep) rc = run_reply(conn, ya);
  if (*bench) rc = run_bench(conn, ba);
  for (auto& [sub, run] : js_commands) {
    if (*sub) rc = run();
  }
  nats_Close();
  return rc;
}
