// ferry: the command-line client for ferryd (or any NATS server), built on nats.c.
#include <CLI/CLI.hpp>
#include <nats/nats.h>

#include <cstdlib>

#include "commands.h"

int main(int argc, char** argv) {
  using namespace ferry::cli;
  CLI::App app{"ferry: publish, subscribe, request, benchmark and manage JetStream on ferryd or any NATS server"};
  app.require_subcommand(1);
  // Global options (--server, ...) may also follow the subcommand.
  app.fallthrough();
  connect_options conn;
  if (const char* env = std::getenv("FERRY_SERVER")) conn.server = env;
  std::string timeout = "2s";
  app.add_option("-s,--server", conn.server, "Server URL (env FERRY_SERVER)")->capture_default_str();
  app.add_option("--user", conn.user, "User name");
  app.add_option("--password", conn.password, "Password");
  app.add_option("--token", conn.token, "Authentication token");
  app.add_option("--tlsca", conn.tls_ca, "CA certificate to verify the server (enables TLS)");
  app.add_option("--tlscert", conn.tls_cert, "Client certificate (enables TLS)");
  app.add_option("--tlskey", conn.tls_key, "Client certificate key");
  app.add_option("--connect-timeout", timeout, "How long to wait for the server")->capture_default_str();

  pub_args pa;
  auto* pub = app.add_subcommand("pub", "Publish a message (DATA may contain {{Count}} and {{Time}})");
  pub->add_option("subject", pa.subject, "Subject")->required();
  pub->add_option("data", pa.data, "Payload (- reads it from standard input)");
  pub->add_option("-c,--count", pa.count, "Number of messages")->capture_default_str();
  pub->add_option("-H,--header", pa.headers, "Header Key:Value (repeatable)");
  pub->add_option("-r,--reply", pa.reply, "Reply subject");
  pub->add_flag("-q,--quiet", pa.quiet, "Print nothing on success");

  sub_args sa;
  auto* sub = app.add_subcommand("sub", "Subscribe and print messages");
  sub->add_option("subject", sa.subject, "Subject (wildcards * and > allowed)")->required();
  sub->add_option("-q,--queue", sa.queue, "Queue group");
  sub->add_option("-c,--count", sa.count, "Exit after this many messages (0: never)")->capture_default_str();
  sub->add_flag("--raw", sa.raw, "Print only the payloads");

  request_args ra;
  auto* req = app.add_subcommand("request", "Send a request and print the reply");
  req->alias("req");
  req->add_option("subject", ra.subject, "Subject")->required();
  req->add_option("data", ra.data, "Payload");
  req->add_option("-t,--timeout", ra.timeout, "How long to wait for a reply")->capture_default_str();
  req->add_option("-H,--header", ra.headers, "Header Key:Value (repeatable)");
  req->add_flag("--raw", ra.raw, "Print only the reply payload");

  reply_args ya;
  auto* rep = app.add_subcommand("reply", "Answer requests with a fixed response (may contain {{Count}})");
  rep->add_option("subject", ya.subject, "Subject")->required();
  rep->add_option("response", ya.response, "Response payload")->required();
  rep->add_option("-q,--queue", ya.queue, "Queue group");
  rep->add_option("-c,--count", ya.count, "Exit after this many requests (0: never)")->capture_default_str();
  rep->add_flag("--quiet", ya.quiet, "Do not print requests");

  bench_args ba;
  auto* bench = app.add_subcommand("bench", "Measure throughput or request/reply latency");
  bench->add_option("subject", ba.subject, "Subject")->capture_default_str();
  bench->add_option("--pub", ba.pubs, "Publishers (or requesters), one connection each")->capture_default_str();
  bench->add_option("--sub", ba.subs, "Subscribers (or responders), one connection each")->capture_default_str();
  bench->add_option("--msgs", ba.msgs, "Messages (or requests) in all")->capture_default_str();
  bench->add_option("--size", ba.size, "Payload bytes")->capture_default_str();
  bench->add_flag("--request", ba.request, "Request/reply latency instead of throughput");
  bench->add_flag("--queue", ba.queue, "Subscribers form one queue group");
  bench->add_option("--csv", ba.csv, "Append the result row to this CSV file");

  command_list js_commands;
  add_stream_commands(app, conn, js_commands);
  add_consumer_commands(app, conn, js_commands);
  add_kv_commands(app, conn, js_commands);
  add_dlq_commands(app, conn, js_commands);

  CLI11_PARSE(app, argc, argv);
  auto t = parse_duration(timeout);
  if (!t.is_ok()) return fail(t.status().message());
  conn.timeout = *t;
  // One thread for libnats' internal timers and callbacks is enough for a CLI.
  nats_Open(-1);
  int rc = 1;
  if (*pub) rc = run_pub(conn, pa);
  if (*sub) rc = run_sub(conn, sa);
  if (*req) rc = run_request(conn, ra);
  if (*rep) rc = run_reply(conn, ya);
  if (*bench) rc = run_bench(conn, ba);
  for (auto& [sub, run] : js_commands) {
    if (*sub) rc = run();
  }
  nats_Close();
  return rc;
}
