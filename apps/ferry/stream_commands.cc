// ferry stream add|info|ls|rm|purge|get: JetStream streams through raw $JS.API requests (so
// that ferryd's dead_letter_stream extension is sent as it is).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "checks.h"
#include "js_api.h"

namespace ferry::cli {

namespace {

std::string limit(const ojson& cfg, const char* key) {
  const std::int64_t v = cfg.value(key, std::int64_t{-1});
  return v < 0 ? "unlimited" : std::to_string(v);
}

std::string join(const ojson& list, const char* sep = ", ") {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& s : list) {
    if (!out.empty()) out += sep;
    out += s.is_string() ? s.get<std::string>() : s.dump();
  }
  return out;
}

void print_stream_info(const ojson& info) {
  const ojson& c = info["config"];
  const ojson& s = info["state"];
  std::printf("Stream %s\n", c.value("name", std::string()).c_str());
  print_field("Created", info.value("created", std::string()));
  if (c.contains("description")) print_field("Description", c.value("description", std::string()));
  print_field("Subjects", join(c["subjects"]));
  print_field("Storage", c.value("storage", std::string()));
  print_field("Retention", c.value("retention", std::string()));
  print_field("Discard", c.value("discard", std::string()));
  print_field("Max messages", limit(c, "max_msgs"));
  print_field("Max bytes", format_bytes(c.value("max_bytes", std::int64_t{-1})));
  const std::int64_t age = c.value("max_age", std::int64_t{0});
  print_field("Max age", age <= 0 ? "unlimited" : format_ns(age));
  print_field("Max msgs/subject", limit(c, "max_msgs_per_subject"));
  print_field("Max message size", format_bytes(c.value("max_msg_size", std::int64_t{-1})));
  print_field("Duplicate window", format_ns(c.value("duplicate_window", std::int64_t{0})));
  if (c.contains("dead_letter_stream")) print_field("Dead-letter stream", c.value("dead_letter_stream", std::string()));
  std::printf("State\n");
  print_field("Messages", std::to_string(s.value("messages", std::uint64_t{0})));
  print_field("Bytes", format_bytes(s.value("bytes", std::int64_t{0})));
  const std::uint64_t first = s.value("first_seq", std::uint64_t{0}), last = s.value("last_seq", std::uint64_t{0});
  print_field("First sequence", std::to_string(first) + (first > 0 ? " @ " + s.value("first_ts", std::string()) : ""));
  print_field("Last sequence", std::to_string(last) + (last > 0 ? " @ " + s.value("last_ts", std::string()) : ""));
  if (s.value("num_deleted", 0) > 0) print_field("Deleted messages", std::to_string(s.value("num_deleted", 0)));
  print_field("Subjects", std::to_string(s.value("num_subjects", std::uint64_t{0})));
  print_field("Consumers", std::to_string(s.value("consumer_count", 0)));
}

struct stream_add_args {
  std::string name, storage = "file", retention = "limits", discard = "old";
  std::vector<std::string> subjects;
  std::int64_t max_msgs = -1, max_msgs_per_subject = -1;
  std::string max_bytes = "-1", max_msg_size = "-1", max_age = "0", dupe_window, dead_letter_stream, description;
  bool json = false;
};

status run_stream_add(js_client& js, const stream_add_args& a) {
  ojson cfg;
  cfg["name"] = a.name;
  if (!a.description.empty()) cfg["description"] = a.description;
  if (!a.subjects.empty()) cfg["subjects"] = a.subjects;
  cfg["retention"] = a.retention;
  cfg["max_consumers"] = -1;
  cfg["max_msgs"] = a.max_msgs;
  FERRY_ASSIGN_OR_RETURN(cfg["max_bytes"], parse_size(a.max_bytes, true));
  FERRY_ASSIGN_OR_RETURN(cfg["max_age"], parse_duration_ns(a.max_age));
  cfg["max_msgs_per_subject"] = a.max_msgs_per_subject;
  FERRY_ASSIGN_OR_RETURN(cfg["max_msg_size"], parse_size(a.max_msg_size, true));
  cfg["discard"] = a.discard;
  cfg["storage"] = a.storage;
  cfg["num_replicas"] = 1;
  if (!a.dupe_window.empty()) {
    FERRY_ASSIGN_OR_RETURN(cfg["duplicate_window"], parse_duration_ns(a.dupe_window));
  }
  if (!a.dead_letter_stream.empty()) cfg["dead_letter_stream"] = a.dead_letter_stream;
  FERRY_ASSIGN_OR_RETURN(ojson r, js.request("STREAM.CREATE." + a.name, cfg, "stream " + a.name));
  FERRY_RETURN_IF_ERROR(check_dead_letter_stream(js, r["config"], a.dead_letter_stream, "stream " + a.name));
  if (a.json) {
    print_json(r);
  } else {
    print_stream_info(r);
  }
  return status::ok();
}

struct info_args {
  std::string name;
  bool json = false;
};

status run_info(js_client& js, const info_args& a) {
  FERRY_ASSIGN_OR_RETURN(ojson r, js.stream_info(a.name));
  if (a.json) {
    print_json(r);
  } else {
    print_stream_info(r);
  }
  return status::ok();
}

status run_ls(js_client& js, bool json) {
  FERRY_ASSIGN_OR_RETURN(std::vector<ojson> all, js.list("STREAM.LIST", "streams", "listing streams"));
  std::sort(all.begin(), all.end(),
            [](const ojson& a, const ojson& b) { return a["config"]["name"] < b["config"]["name"]; });
  if (json) {
    print_json(ojson(all));
    return status::ok();
  }
  if (all.empty()) {
    std::printf("No streams defined\n");
    return status::ok();
  }
  std::vector<std::vector<std::string>> rows{
      {"NAME", "SUBJECTS", "STORAGE", "MESSAGES", "BYTES", "CONSUMERS", "LAST MESSAGE"}};
  for (const ojson& s : all) {
    const ojson& st = s["state"];
    rows.push_back({s["config"].value("name", std::string()), join(s["config"]["subjects"], ","),
                    s["config"].value("storage", std::string()), std::to_string(st.value("messages", std::uint64_t{0})),
                    format_bytes(st.value("bytes", std::int64_t{0})), std::to_string(st.value("consumer_count", 0)),
                    st.value("last_seq", std::uint64_t{0}) > 0 ? st.value("last_ts", std::string()) : "-"});
  }
  print_table(rows);
  return status::ok();
}

// Asks "<question> [y/N]" on a terminal; false without one.
bool confirm(const std::string& question) {
  if (::isatty(STDIN_FILENO) == 0) return false;
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

status run_rm(js_client& js, const std::string& name, bool force) {
  if (!force) {
    FERRY_ASSIGN_OR_RETURN(ojson info, js.stream_info(name));
    const std::uint64_t n = info["state"].value("messages", std::uint64_t{0});
    if (!confirm("Delete stream " + name + " and its " + std::to_string(n) + " messages?"))
      return error("not deleting stream " + name + " without confirmation (use --force)");
  }
  FERRY_RETURN_IF_ERROR(js.request("STREAM.DELETE." + name, std::string(), "stream " + name).status());
  std::printf("Deleted stream %s\n", name.c_str());
  return status::ok();
}

struct purge_args {
  std::string name, subject;
  std::optional<std::uint64_t> keep, seq;
  bool force = false;
};

status run_purge(js_client& js, const purge_args& a) {
  if (!a.force) {
    FERRY_ASSIGN_OR_RETURN(ojson info, js.stream_info(a.name));
    const std::uint64_t n = info["state"].value("messages", std::uint64_t{0});
    std::string which = a.subject.empty() ? "" : " on " + a.subject;
    if (a.keep) which += " except the newest " + std::to_string(*a.keep);
    if (a.seq) which += " below sequence " + std::to_string(*a.seq);
    if (!confirm("Purge the messages" + which + " from stream " + a.name + " (" + std::to_string(n) + " stored)?"))
      return error("not purging stream " + a.name + " without confirmation (use --force)");
  }
  ojson req = ojson::object();
  if (!a.subject.empty()) req["filter"] = a.subject;
  if (a.keep) req["keep"] = *a.keep;
  if (a.seq) req["seq"] = *a.seq;
  FERRY_ASSIGN_OR_RETURN(ojson r, js.request("STREAM.PURGE." + a.name, req, "stream " + a.name));
  const std::uint64_t n = r.value("purged", std::uint64_t{0});
  std::printf("Purged %llu message%s from stream %s\n", static_cast<unsigned long long>(n), n == 1 ? "" : "s",
              a.name.c_str());
  return status::ok();
}

struct get_args {
  std::string name, last_for;
  std::uint64_t seq = 0;
  bool raw = false;
};

status run_get(js_client& js, const get_args& a) {
  if (a.seq == 0 && a.last_for.empty()) return invalid_argument("give a sequence or --last-for SUBJECT");
  auto m = js.get_message(a.name, a.seq, a.last_for);
  if (!m.is_ok() && m.status().code() == status_code::not_found) {
    return error("stream " + a.name + ": " +
                 (a.last_for.empty() ? "no message with sequence " + std::to_string(a.seq)
                                     : "no message on subject " + a.last_for));
  }
  if (!m.is_ok()) return m.status();
  if (a.raw) {
    print_payload(m->data);
    return status::ok();
  }
  std::printf("Stream:   %s\nSequence: %llu\nSubject:  %s\nTime:     %s\n", a.name.c_str(),
              static_cast<unsigned long long>(m->seq), m->subject.c_str(), m->time.c_str());
  if (!m->headers.empty()) {
    std::printf("Headers:\n");
    print_headers(m->headers, "  ");
  }
  std::printf("\n");
  print_payload(m->data);
  return status::ok();
}

}  // namespace

void add_stream_commands(CLI::App& app, const connect_options& conn, command_list& out) {
  auto* g = app.add_subcommand("stream", "Manage JetStream streams");
  g->require_subcommand(1);

  auto aa = std::make_shared<stream_add_args>();
  auto* add = g->add_subcommand("add", "Create a stream (the same configuration again is a no-op)");
  add->add_option("name", aa->name, "Stream name")->required()->check(name_arg("stream name"));
  add->add_option("--subjects", aa->subjects,
                  "Subject the stream stores, wildcards allowed (repeatable; default: NAME)")
      ->check(subject_arg(subject_use::subscribe));
  add->add_option("--description", aa->description, "Description");
  add->add_option("--storage", aa->storage, "file or memory")
      ->check(CLI::IsMember({"file", "memory"}))
      ->capture_default_str();
  add->add_option("--retention", aa->retention, "limits, interest or workqueue")
      ->check(CLI::IsMember({"limits", "interest", "workqueue"}))
      ->capture_default_str();
  add->add_option("--max-msgs", aa->max_msgs, "Most messages kept (-1: unlimited)")
      ->check(limit_arg())
      ->capture_default_str();
  add->add_option("--max-bytes", aa->max_bytes, "Most bytes kept, e.g. 1GiB (-1: unlimited)")
      ->transform(size_arg(true))
      ->capture_default_str();
  add->add_option("--max-age", aa->max_age, "Oldest message kept, e.g. 24h (0: unlimited)")
      ->check(duration_arg())
      ->capture_default_str();
  add->add_option("--max-msgs-per-subject", aa->max_msgs_per_subject, "Most messages kept per subject (-1: unlimited)")
      ->check(limit_arg())
      ->capture_default_str();
  add->add_option("--max-msg-size", aa->max_msg_size, "Largest message accepted (-1: unlimited)")
      ->transform(size_arg(true))
      ->capture_default_str();
  add->add_option("--discard", aa->discard, "When full: old (drop the oldest) or new (refuse new messages)")
      ->check(CLI::IsMember({"old", "new"}))
      ->capture_default_str();
  add->add_option("--dupe-window", aa->dupe_window, "Window for Nats-Msg-Id duplicate detection (default 2m)")
      ->check(duration_arg());
  add->add_option("--dead-letter-stream", aa->dead_letter_stream,
                  "Stream receiving messages of any consumer that reach max deliveries or are terminated (ferryd)")
      ->check(name_arg("stream name"));
  add->add_flag("--json", aa->json, "Print the stream info as JSON");
  on_run(out, add, conn, [aa](js_client& js) { return run_stream_add(js, *aa); });

  auto ia = std::make_shared<info_args>();
  auto* info = g->add_subcommand("info", "Show a stream's configuration and state");
  info->add_option("name", ia->name, "Stream name")->required()->check(name_arg("stream name"));
  info->add_flag("--json", ia->json, "Print the server's JSON");
  on_run(out, info, conn, [ia](js_client& js) { return run_info(js, *ia); });

  auto ls_json = std::make_shared<bool>(false);
  auto* ls = g->add_subcommand("ls", "List the streams");
  ls->alias("list");
  ls->add_flag("--json", *ls_json, "Print the stream infos as JSON");
  on_run(out, ls, conn, [ls_json](js_client& js) { return run_ls(js, *ls_json); });

  auto ra = std::make_shared<std::pair<std::string, bool>>();
  auto* rm = g->add_subcommand("rm", "Delete a stream, its messages and its consumers");
  rm->add_option("name", ra->first, "Stream name")->required()->check(name_arg("stream name"));
  rm->add_flag("-f,--force", ra->second, "Do not ask for confirmation");
  on_run(out, rm, conn, [ra](js_client& js) { return run_rm(js, ra->first, ra->second); });

  auto pa = std::make_shared<purge_args>();
  auto* purge = g->add_subcommand("purge", "Delete a stream's messages (all, or on a subject, or up to a sequence)");
  purge->add_option("name", pa->name, "Stream name")->required()->check(name_arg("stream name"));
  purge->add_option("--subject", pa->subject, "Only messages on this subject (wildcards allowed)")
      ->check(subject_arg(subject_use::subscribe));
  auto* keep = purge->add_option("--keep", pa->keep, "Keep this many of the newest messages")->check(count_arg());
  purge->add_flag("-f,--force", pa->force, "Do not ask for confirmation");
  purge->add_option("--seq", pa->seq, "Purge messages below this sequence")->check(count_arg(1))->excludes(keep);
  on_run(out, purge, conn, [pa](js_client& js) { return run_purge(js, *pa); });

  auto ga = std::make_shared<get_args>();
  auto* get = g->add_subcommand("get", "Print a stored message: subject, sequence, time, headers and payload");
  get->add_option("name", ga->name, "Stream name")->required()->check(name_arg("stream name"));
  auto* seq = get->add_option("seq", ga->seq, "Sequence number")->check(count_arg(1));
  get->add_option("--last-for", ga->last_for, "The last message on this subject instead of a sequence")
      ->check(subject_arg(subject_use::publish))
      ->excludes(seq);
  get->add_flag("--raw", ga->raw, "Print only the payload");
  on_run(out, get, conn, [ga](js_client& js) { return run_get(js, *ga); });
}

}  // namespace ferry::cli
