// ferry dlq ls|show|replay: dead letters, ferryd's extension. A stream or consumer with
// dead_letter_stream copies each message that reaches max_deliver or is terminated (+TERM) into
// that stream, under its original subject with its original headers plus Ferry-Dead-Letter-*
// headers (reason, stream, consumer, subject, sequence, deliveries, time).
#include <strings.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "checks.h"
#include "js_api.h"

namespace ferry::cli {

namespace {

constexpr const char* dl_prefix = "Ferry-Dead-Letter-";

std::string dl(const stored_message& m, const char* field) {
  const std::string* v = m.header(std::string(dl_prefix) + field);
  return v != nullptr ? *v : "-";
}

bool is_dl_header(const std::string& name) {
  const std::size_t n = std::char_traits<char>::length(dl_prefix);
  return name.size() >= n && ::strncasecmp(name.c_str(), dl_prefix, n) == 0;
}

// The original subject: Ferry-Dead-Letter-Subject, else the subject it is stored under.
std::string original_subject(const stored_message& m) {
  const std::string* v = m.header(std::string(dl_prefix) + "Subject");
  return v != nullptr ? *v : m.subject;
}

// Calls `f` for each message of `stream` in order (one MSG.GET per message).
status for_each_message(js_client& js, const std::string& stream, const std::function<status(stored_message&)>& f) {
  FERRY_ASSIGN_OR_RETURN(ojson info, js.stream_info(stream));
  std::uint64_t seq = info["state"].value("first_seq", std::uint64_t{0});
  if (info["state"].value("messages", std::uint64_t{0}) == 0) return status::ok();
  for (;;) {
    auto m = js.get_message(stream, seq, "", ">");
    if (!m.is_ok() && m.status().code() == status_code::not_found) return status::ok();
    if (!m.is_ok()) return m.status();
    FERRY_RETURN_IF_ERROR(f(*m));
    seq = m->seq + 1;
  }
}

// A stream that no stream's or consumer's dead_letter_stream names and whose messages carry no
// Ferry-Dead-Letter headers is not a dead-letter stream: listing it would show a table of dashes.
status check_is_dead_letter_stream(js_client& js, const std::string& stream) {
  FERRY_ASSIGN_OR_RETURN(std::vector<ojson> streams, js.list("STREAM.LIST", "streams", "listing streams"));
  bool exists = false;
  for (const ojson& s : streams) {
    const std::string name = s["config"].value("name", std::string());
    exists = exists || name == stream;
    if (s["config"].value("dead_letter_stream", std::string()) == stream) return status::ok();
    FERRY_ASSIGN_OR_RETURN(std::vector<ojson> consumers,
                           js.list("CONSUMER.LIST." + name, "consumers", "listing the consumers of " + name));
    for (const ojson& c : consumers) {
      if (c["config"].value("dead_letter_stream", std::string()) == stream) return status::ok();
    }
  }
  if (!exists) return js.stream_info(stream).status();  // its "stream not found"
  FERRY_ASSIGN_OR_RETURN(ojson info, js.stream_info(stream));
  if (info["state"].value("messages", std::uint64_t{0}) > 0) {
    auto first = js.get_message(stream, info["state"].value("first_seq", std::uint64_t{0}), "", ">");
    if (first.is_ok() && first->header(std::string(dl_prefix) + "Reason") != nullptr) return status::ok();
  }
  return error("stream " + stream +
               " is not a dead-letter stream: no stream or consumer names it as dead_letter_stream and its messages "
               "have no Ferry-Dead-Letter headers");
}

status run_ls(js_client& js, const std::string& stream) {
  FERRY_RETURN_IF_ERROR(check_is_dead_letter_stream(js, stream));
  std::vector<std::vector<std::string>> rows{
      {"SEQ", "ORIGIN", "SUBJECT", "REASON", "DELIVERIES", "CONSUMER", "DEAD SINCE"}};
  FERRY_RETURN_IF_ERROR(for_each_message(js, stream, [&](stored_message& m) {
    rows.push_back({std::to_string(m.seq), dl(m, "Stream") + "#" + dl(m, "Sequence"), original_subject(m),
                    dl(m, "Reason"), dl(m, "Deliveries"), dl(m, "Consumer"), dl(m, "Time")});
    return status::ok();
  }));
  if (rows.size() == 1) {
    std::printf("No dead letters in stream %s\n", stream.c_str());
    return status::ok();
  }
  print_table(rows);
  return status::ok();
}

result<stored_message> get_dead_letter(js_client& js, const std::string& stream, std::uint64_t seq) {
  auto m = js.get_message(stream, seq);
  if (!m.is_ok() && m.status().code() == status_code::not_found)
    return error("stream " + stream + ": no dead letter with sequence " + std::to_string(seq));
  return m;
}

status run_show(js_client& js, const std::string& stream, std::uint64_t seq) {
  FERRY_ASSIGN_OR_RETURN(stored_message m, get_dead_letter(js, stream, seq));
  std::printf("Dead letter %s #%llu (stored %s)\n", stream.c_str(), static_cast<unsigned long long>(m.seq),
              m.time.c_str());
  print_field("Reason", dl(m, "Reason"));
  print_field("Original stream", dl(m, "Stream"));
  print_field("Original sequence", dl(m, "Sequence"));
  print_field("Subject", original_subject(m));
  print_field("Consumer", dl(m, "Consumer"));
  print_field("Deliveries", dl(m, "Deliveries"));
  print_field("Dead since", dl(m, "Time"));
  header_list original;
  for (const auto& h : m.headers) {
    if (!is_dl_header(h.first)) original.push_back(h);
  }
  if (!original.empty()) {
    std::printf("Headers\n");
    print_headers(original, "  ");
  }
  std::printf("Payload (%zu bytes)\n", m.data.size());
  print_payload(m.data);
  return status::ok();
}

struct replay_args {
  std::string stream;
  std::vector<std::uint64_t> seqs;
  bool all = false, keep = false;
};

status replay_one(js_client& js, const replay_args& a, const stored_message& m) {
  const std::string subject = original_subject(m);
  const std::string what = "dead letter " + a.stream + " #" + std::to_string(m.seq);
  header_list headers;
  for (const auto& h : m.headers) {
    if (!is_dl_header(h.first)) headers.push_back(h);
  }
  FERRY_ASSIGN_OR_RETURN(std::vector<std::string> streams, js.stream_names(subject));
  std::string where;
  if (streams.empty()) {
    FERRY_RETURN_IF_ERROR(js.publish_core(subject, headers, m.data).with_context(what));
    where = "no stream stores the subject";
  } else {
    auto ack = js.publish(subject, headers, m.data);
    if (!ack.is_ok()) return ack.status().with_context(what);
    if (ack->value("duplicate", false)) {
      return error(what + ": stream " + ack->value("stream", std::string()) +
                   " dropped the replay as a duplicate (its Nats-Msg-Id is within the duplicate window); kept");
    }
    where = "stream " + ack->value("stream", std::string()) + " seq " + std::to_string(ack->value("seq", 0ULL));
  }
  if (!a.keep) FERRY_RETURN_IF_ERROR(js.delete_message(a.stream, m.seq));
  std::printf("Replayed %s to \"%s\" (%s)%s\n", what.c_str(), subject.c_str(), where.c_str(),
              a.keep ? "" : "; removed it");
  std::fflush(stdout);
  return status::ok();
}

status run_replay(js_client& js, const replay_args& a) {
  if (a.seqs.empty() && !a.all) return invalid_argument("give the sequences to replay, or --all");
  std::vector<std::uint64_t> seqs = a.seqs;
  if (a.all) {
    FERRY_RETURN_IF_ERROR(for_each_message(js, a.stream, [&](stored_message& m) {
      seqs.push_back(m.seq);
      return status::ok();
    }));
    if (seqs.empty()) {
      std::printf("No dead letters in stream %s\n", a.stream.c_str());
      return status::ok();
    }
  }
  for (std::uint64_t seq : seqs) {
    FERRY_ASSIGN_OR_RETURN(stored_message m, get_dead_letter(js, a.stream, seq));
    FERRY_RETURN_IF_ERROR(replay_one(js, a, m));
  }
  return status::ok();
}

}  // namespace

void add_dlq_commands(CLI::App& app, const connect_options& conn, command_list& out) {
  auto* g = app.add_subcommand("dlq", "Dead letters (ferryd's dead_letter_stream): list, show and replay them");
  g->require_subcommand(1);

  auto ls_stream = std::make_shared<std::string>();
  auto* ls = g->add_subcommand("ls", "One line per dead letter: sequence, origin, subject, reason, deliveries, time");
  ls->add_option("stream", *ls_stream, "Dead-letter stream")->required()->check(name_arg("stream name"));
  on_run(out, ls, conn, [ls_stream](js_client& js) { return run_ls(js, *ls_stream); });

  auto sa = std::make_shared<std::pair<std::string, std::uint64_t>>();
  auto* show = g->add_subcommand("show", "Print a dead letter: where it came from, why, its headers and payload");
  show->add_option("stream", sa->first, "Dead-letter stream")->required()->check(name_arg("stream name"));
  show->add_option("seq", sa->second, "Sequence in the dead-letter stream")->required()->check(count_arg(1));
  on_run(out, show, conn, [sa](js_client& js) { return run_show(js, sa->first, sa->second); });

  auto ra = std::make_shared<replay_args>();
  auto* replay = g->add_subcommand(
      "replay",
      "Publish dead letters again on their original subjects (with their original headers), then remove them");
  replay->add_option("stream", ra->stream, "Dead-letter stream")->required()->check(name_arg("stream name"));
  auto* seqs = replay->add_option("seq", ra->seqs, "Sequences in the dead-letter stream")->check(count_arg(1));
  replay->add_flag("--all", ra->all, "Every dead letter in the stream")->excludes(seqs);
  replay->add_flag("--keep", ra->keep, "Keep them in the dead-letter stream");
  on_run(out, replay, conn, [ra](js_client& js) { return run_replay(js, *ra); });
}

}  // namespace ferry::cli
