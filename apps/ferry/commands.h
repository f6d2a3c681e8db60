// The ferry CLI's commands. Each returns the process exit code: 0 on success, 1 on an error it
// has already printed as one line on stderr.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "session.h"

namespace CLI {
class App;
}

namespace ferry::cli {

struct pub_args {
  std::string subject, data, reply;
  long count = 1;
  std::vector<std::string> headers;
  bool quiet = false;
};
// Without `data_given` (or with data "-") the payload is read from standard input.
int run_pub(const connect_options& c, const pub_args& a, bool data_given);

struct sub_args {
  std::string subject, queue;
  long count = 0;  // 0: until interrupted
  bool raw = false;
};
int run_sub(const connect_options& c, const sub_args& a);

struct request_args {
  std::string subject, data;
  std::string timeout = "2s";
  std::vector<std::string> headers;
  bool raw = false;
};
int run_request(const connect_options& c, const request_args& a, bool data_given);

struct reply_args {
  std::string subject, response, queue;
  long count = 0;
  bool quiet = false;
};
int run_reply(const connect_options& c, const reply_args& a);

struct bench_args {
  std::string subject = "ferry.bench";
  int pubs = 1, subs = 0;
  long msgs = 100000;
  int size = 128;
  bool request = false;  // request/reply latency instead of throughput
  bool queue = false;    // subscribers form a queue group
  std::string csv;       // optional file for the result row
};
int run_bench(const connect_options& c, const bench_args& a);

// Subcommands to run after parsing: main runs the function of the one that was given. The
// JetStream command groups (stream, consumer, kv, dlq) register theirs this way; `conn` is
// read when the command runs.
using command_list = std::vector<std::pair<CLI::App*, std::function<int()>>>;
void add_stream_commands(CLI::App& app, const connect_options& conn, command_list& out);
void add_consumer_commands(CLI::App& app, const connect_options& conn, command_list& out);
void add_kv_commands(CLI::App& app, const connect_options& conn, command_list& out);
void add_dlq_commands(CLI::App& app, const connect_options& conn, command_list& out);

// Prints "ferry: <message>" on stderr and returns 1.
int fail(const std::string& message);
// The payload given on the command line, or standard input when none (or "-") was given, as
// the nats CLI reads it; on a terminal it says so first.
std::string payload_or_stdin(const std::string& data, bool data_given);
// Replaces {{Count}} with n (and {{Time}} with the current time) in a payload template.
std::string expand(const std::string& tmpl, long n);

}  // namespace ferry::cli
