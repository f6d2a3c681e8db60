// ferry consumer add|info|ls|rm|next: durable JetStream consumers, and pulling (and
// acknowledging) messages from a pull consumer.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "checks.h"
#include "js_api.h"

namespace ferry::cli {

namespace {

std::string seq_pair(const ojson& j) {
  return "consumer seq " + std::to_string(j.value("consumer_seq", std::uint64_t{0})) + ", stream seq " +
         std::to_string(j.value("stream_seq", std::uint64_t{0}));
}

std::string mode_of(const ojson& cfg) {
  if (!cfg.contains("deliver_subject")) return "pull";
  std::string m = "push to \"" + cfg.value("deliver_subject", std::string()) + "\"";
  if (cfg.contains("deliver_group")) m += " (group " + cfg.value("deliver_group", std::string()) + ")";
  return m;
}

void print_consumer_info(const ojson& info) {
  const ojson& c = info["config"];
  std::printf("Consumer %s > %s\n", info.value("stream_name", std::string()).c_str(),
              info.value("name", std::string()).c_str());
  print_field("Created", info.value("created", std::string()));
  print_field("Mode", mode_of(c));
  if (c.contains("filter_subject")) print_field("Filter", c.value("filter_subject", std::string()));
  std::string deliver = c.value("deliver_policy", std::string());
  if (c.contains("opt_start_seq")) deliver += " from " + std::to_string(c.value("opt_start_seq", std::uint64_t{0}));
  if (c.contains("opt_start_time")) deliver += " from " + c.value("opt_start_time", std::string());
  print_field("Deliver policy", deliver);
  print_field("Ack policy", c.value("ack_policy", std::string()));
  if (c.contains("ack_wait")) print_field("Ack wait", format_ns(c.value("ack_wait", std::int64_t{0})));
  const std::int64_t md = c.value("max_deliver", std::int64_t{-1});
  print_field("Max deliver", md <= 0 ? "unlimited" : std::to_string(md));
  if (c.contains("max_ack_pending")) print_field("Max ack pending", std::to_string(c.value("max_ack_pending", 0)));
  if (c.contains("backoff")) {
    std::string b;
    for (const auto& d : c["backoff"]) b += (b.empty() ? "" : ", ") + format_ns(d.get<std::int64_t>());
    print_field("Backoff", b);
  }
  if (c.contains("dead_letter_stream")) print_field("Dead-letter stream", c.value("dead_letter_stream", std::string()));
  std::printf("State\n");
  const ojson& d = info["delivered"];
  std::string last = d.contains("last_active") ? " @ " + d.value("last_active", std::string()) : "";
  print_field("Last delivered", seq_pair(d) + last);
  print_field("Ack floor", seq_pair(info["ack_floor"]));
  print_field("Outstanding acks", std::to_string(info.value("num_ack_pending", 0)));
  print_field("Redelivered", std::to_string(info.value("num_redelivered", 0)));
  if (!c.contains("deliver_subject")) print_field("Waiting pulls", std::to_string(info.value("num_waiting", 0)));
  print_field("Unprocessed", std::to_string(info.value("num_pending", std::uint64_t{0})));
}

struct consumer_add_args {
  std::string stream, name, target, group, filter, ack = "explicit", deliver = "all", ack_wait, dead_letter_stream;
  std::string description;
  bool pull = false;
  std::int64_t max_deliver = 0, max_ack_pending = 0;
  std::vector<std::string> backoff;
  bool json = false;
};

// --deliver: all, last, new, last-per-subject, a stream sequence, an RFC 3339 time, or a
// duration (messages from that long ago on).
status set_deliver_policy(ojson& cfg, const std::string& d) {
  if (d == "all" || d == "last" || d == "new") {
    cfg["deliver_policy"] = d;
  } else if (d == "last-per-subject" || d == "last_per_subject") {
    cfg["deliver_policy"] = "last_per_subject";
  } else if (!d.empty() && d.find_first_not_of("0123456789") == std::string::npos) {
    cfg["deliver_policy"] = "by_start_sequence";
    cfg["opt_start_seq"] = std::stoull(d);
  } else if (auto t = parse_rfc3339_ns(d)) {
    cfg["deliver_policy"] = "by_start_time";
    cfg["opt_start_time"] = format_rfc3339(*t);
  } else if (auto ago = parse_duration_ns(d); ago.is_ok()) {
    const auto now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    cfg["deliver_policy"] = "by_start_time";
    cfg["opt_start_time"] = format_rfc3339(now - *ago);
  } else {
    return invalid_argument("invalid --deliver \"" + d +
                            "\" (use all, last, new, last-per-subject, a sequence, an RFC 3339 time or a duration)");
  }
  return status::ok();
}

status run_consumer_add(js_client& js, const consumer_add_args& a) {
  ojson cfg;
  cfg["durable_name"] = a.name;
  if (!a.description.empty()) cfg["description"] = a.description;
  FERRY_RETURN_IF_ERROR(set_deliver_policy(cfg, a.deliver));
  cfg["ack_policy"] = a.ack;
  if (!a.ack_wait.empty()) {
    FERRY_ASSIGN_OR_RETURN(cfg["ack_wait"], parse_duration_ns(a.ack_wait));
  }
  if (a.max_deliver != 0) cfg["max_deliver"] = a.max_deliver;
  if (!a.backoff.empty()) {
    ojson b = ojson::array();
    for (const std::string& d : a.backoff) {
      FERRY_ASSIGN_OR_RETURN(std::int64_t ns, parse_duration_ns(d));
      b.push_back(ns);
    }
    cfg["backoff"] = std::move(b);
  }
  if (!a.filter.empty()) cfg["filter_subject"] = a.filter;
  cfg["replay_policy"] = "instant";
  if (a.max_ack_pending != 0) cfg["max_ack_pending"] = a.max_ack_pending;
  if (!a.target.empty()) cfg["deliver_subject"] = a.target;
  if (!a.group.empty()) {
    if (a.target.empty()) return invalid_argument("--deliver-group needs a push consumer (--target SUBJECT)");
    cfg["deliver_group"] = a.group;
  }
  if (!a.dead_letter_stream.empty()) cfg["dead_letter_stream"] = a.dead_letter_stream;
  ojson req;
  req["stream_name"] = a.stream;
  req["config"] = std::move(cfg);
  FERRY_ASSIGN_OR_RETURN(ojson r, js.request("CONSUMER.DURABLE.CREATE." + a.stream + "." + a.name, req,
                                             "consumer " + a.stream + " > " + a.name));
  FERRY_RETURN_IF_ERROR(
      check_dead_letter_stream(js, r["config"], a.dead_letter_stream, "consumer " + a.stream + " > " + a.name));
  if (a.json) {
    print_json(r);
  } else {
    print_consumer_info(r);
  }
  return status::ok();
}

struct name_args {
  std::string stream, name;
  bool json = false;
};

status run_info(js_client& js, const name_args& a) {
  FERRY_ASSIGN_OR_RETURN(ojson r, js.consumer_info(a.stream, a.name));
  if (a.json) {
    print_json(r);
  } else {
    print_consumer_info(r);
  }
  return status::ok();
}

status run_ls(js_client& js, const name_args& a) {
  FERRY_ASSIGN_OR_RETURN(std::vector<ojson> all,
                         js.list("CONSUMER.LIST." + a.stream, "consumers", "stream " + a.stream));
  std::sort(all.begin(), all.end(), [](const ojson& x, const ojson& y) { return x["name"] < y["name"]; });
  if (a.json) {
    print_json(ojson(all));
    return status::ok();
  }
  if (all.empty()) {
    std::printf("No consumers on stream %s\n", a.stream.c_str());
    return status::ok();
  }
  std::vector<std::vector<std::string>> rows{
      {"NAME", "MODE", "FILTER", "ACK", "ACK PENDING", "REDELIVERED", "UNPROCESSED", "LAST DELIVERY"}};
  for (const ojson& c : all) {
    const ojson& cfg = c["config"];
    rows.push_back({c.value("name", std::string()), mode_of(cfg), cfg.value("filter_subject", std::string("-")),
                    cfg.value("ack_policy", std::string()), std::to_string(c.value("num_ack_pending", 0)),
                    std::to_string(c.value("num_redelivered", 0)), std::to_string(c.value("num_pending", 0)),
                    c["delivered"].value("last_active", std::string("-"))});
  }
  print_table(rows);
  return status::ok();
}

status run_rm(js_client& js, const name_args& a) {
  FERRY_RETURN_IF_ERROR(js.delete_consumer(a.stream, a.name));
  std::printf("Deleted consumer %s > %s\n", a.stream.c_str(), a.name.c_str());
  return status::ok();
}

struct next_args {
  std::string stream, name, timeout = "5s", reason;
  long count = 1;
  bool no_ack = false, nak = false, term = false, raw = false;
};

// Sends `body` to the message's ack subject and waits for the server's confirmation.
status acknowledge(js_client& js, natsMsg* m, const std::string& body) {
  FERRY_ASSIGN_OR_RETURN(natsConnection * nc, js.conn());
  natsMsg* reply = nullptr;
  const natsStatus s =
      natsConnection_Request(&reply, nc, natsMsg_GetReply(m), body.data(), static_cast<int>(body.size()), 5000);
  if (reply != nullptr) natsMsg_Destroy(reply);
  if (s == NATS_NO_RESPONDERS) return error("acknowledging: no responders on " + std::string(natsMsg_GetReply(m)));
  if (s != NATS_OK) return nats_error("acknowledging", s);
  return status::ok();
}

status run_next(js_client& js, const next_args& a) {
  if (a.count <= 0) return invalid_argument("--count must be positive");
  FERRY_ASSIGN_OR_RETURN(std::int64_t timeout_ns, parse_duration_ns(a.timeout));
  const auto timeout = std::chrono::milliseconds(std::max<std::int64_t>(timeout_ns / 1'000'000, 1));
  FERRY_ASSIGN_OR_RETURN(ojson info, js.consumer_info(a.stream, a.name));
  const ojson& cfg = info["config"];
  if (cfg.contains("deliver_subject")) {
    return error("consumer " + a.stream + " > " + a.name + " is a push consumer delivering to \"" +
                 cfg.value("deliver_subject", std::string()) + "\" (use ferry sub)");
  }
  const bool acks = cfg.value("ack_policy", std::string("none")) != "none";
  std::string ack_body = "+ACK";
  if (a.nak) ack_body = "-NAK";
  if (!a.reason.empty() && !a.term) return invalid_argument("--reason goes with --term");
  if (a.term) ack_body = a.reason.empty() ? std::string("+TERM") : "+TERM " + a.reason;
  puller p(js, a.stream, a.name);
  FERRY_RETURN_IF_ERROR(p.pull(a.count, timeout, false));
  long n = 0;
  while (n < a.count) {
    // The server ends the request after `timeout`; allow a little longer for its 408.
    FERRY_ASSIGN_OR_RETURN(msg_ptr m, p.next(timeout + std::chrono::seconds(1)));
    if (!m) break;
    ++n;
    if (a.raw) {
      print_payload(
          std::string_view(natsMsg_GetData(m.get()), static_cast<std::size_t>(natsMsg_GetDataLength(m.get()))));
    } else {
      std::string meta;
      if (auto md = parse_ack_subject(natsMsg_GetReply(m.get()) ? natsMsg_GetReply(m.get()) : "")) {
        meta = " stream seq " + std::to_string(md->stream_seq) + ", consumer seq " + std::to_string(md->consumer_seq) +
               ", delivery " + std::to_string(md->deliveries) + ", pending " + std::to_string(md->pending) + ", " +
               format_rfc3339(md->timestamp_ns);
      }
      std::printf("[#%ld] \"%s\"%s\n", n, natsMsg_GetSubject(m.get()), meta.c_str());
      print_message(m.get(), n, false, /*header_line=*/false);
    }
    std::fflush(stdout);
    if (a.no_ack || !acks) continue;
    FERRY_RETURN_IF_ERROR(acknowledge(js, m.get(), ack_body));
    if (!a.raw) {
      std::fprintf(stderr, "%s\n",
                   a.nak ? "Negatively acknowledged (will be redelivered)"
                         : (a.term ? "Terminated (no redelivery)" : "Acknowledged"));
    }
  }
  if (n == 0) return error("no message from consumer " + a.stream + " > " + a.name + " within " + a.timeout);
  if (n < a.count) {
    return error("received " + std::to_string(n) + " of " + std::to_string(a.count) + " messages from consumer " +
                 a.stream + " > " + a.name + " within " + a.timeout);
  }
  return status::ok();
}

}  // namespace

void add_consumer_commands(CLI::App& app, const connect_options& conn, command_list& out) {
  auto* g = app.add_subcommand("consumer", "Manage JetStream consumers and pull messages");
  g->require_subcommand(1);

  auto aa = std::make_shared<consumer_add_args>();
  auto* add = g->add_subcommand("add", "Create a durable consumer (pull unless --target is given)");
  add->add_option("stream", aa->stream, "Stream name")->required()->check(name_arg("stream name"));
  add->add_option("name", aa->name, "Consumer (durable) name")->required()->check(name_arg("consumer name"));
  auto* pull = add->add_flag("--pull", aa->pull, "Pull consumer (the default)");
  add->add_option("--target,--deliver-subject", aa->target, "Push consumer delivering to this subject")
      ->check(subject_arg(subject_use::publish))
      ->excludes(pull);
  add->add_option("--deliver-group", aa->group, "Queue group of a push consumer's subscribers")
      ->check(subject_arg(subject_use::subscribe));
  add->add_option("--filter", aa->filter, "Only messages on this subject")->check(subject_arg(subject_use::subscribe));
  add->add_option("--description", aa->description, "Description");
  add->add_option("--ack", aa->ack, "Ack policy: explicit, all or none")
      ->check(CLI::IsMember({"explicit", "all", "none"}))
      ->capture_default_str();
  add->add_option("--deliver", aa->deliver,
                  "Start with: all, last, new, last-per-subject, a stream sequence, an RFC 3339 time, or a duration "
                  "(messages that recent)")
      ->capture_default_str();
  add->add_option("--ack-wait", aa->ack_wait, "Redeliver when not acknowledged within this (default 30s)")
      ->check(duration_arg());
  add->add_option("--max-deliver", aa->max_deliver, "Most deliveries of a message (default: unlimited)")
      ->check(limit_arg());
  add->add_option("--max-ack-pending", aa->max_ack_pending, "Most unacknowledged messages (default 1000)")
      ->check(limit_arg());
  add->add_option("--backoff", aa->backoff, "Redelivery delays, e.g. 1s,5s,30s (max-deliver must exceed their number)")
      ->delimiter(',')
      ->check(duration_arg());
  add->add_option("--dead-letter-stream", aa->dead_letter_stream,
                  "Copy messages that reach max deliveries or are terminated into this stream (ferryd)")
      ->check(name_arg("stream name"));
  add->add_flag("--json", aa->json, "Print the consumer info as JSON");
  on_run(out, add, conn, [aa](js_client& js) { return run_consumer_add(js, *aa); });

  auto ia = std::make_shared<name_args>();
  auto* info = g->add_subcommand("info", "Show a consumer's configuration and state");
  info->add_option("stream", ia->stream, "Stream name")->required()->check(name_arg("stream name"));
  info->add_option("name", ia->name, "Consumer name")->required()->check(name_arg("consumer name"));
  info->add_flag("--json", ia->json, "Print the server's JSON");
  on_run(out, info, conn, [ia](js_client& js) { return run_info(js, *ia); });

  auto la = std::make_shared<name_args>();
  auto* ls = g->add_subcommand("ls", "List a stream's consumers");
  ls->alias("list");
  ls->add_option("stream", la->stream, "Stream name")->required()->check(name_arg("stream name"));
  ls->add_flag("--json", la->json, "Print the consumer infos as JSON");
  on_run(out, ls, conn, [la](js_client& js) { return run_ls(js, *la); });

  auto ra = std::make_shared<name_args>();
  auto* rm = g->add_subcommand("rm", "Delete a consumer");
  rm->add_option("stream", ra->stream, "Stream name")->required()->check(name_arg("stream name"));
  rm->add_option("name", ra->name, "Consumer name")->required()->check(name_arg("consumer name"));
  on_run(out, rm, conn, [ra](js_client& js) { return run_rm(js, *ra); });

  auto na = std::make_shared<next_args>();
  auto* next = g->add_subcommand("next", "Pull messages from a pull consumer, print and acknowledge them");
  next->add_option("stream", na->stream, "Stream name")->required()->check(name_arg("stream name"));
  next->add_option("name", na->name, "Consumer name")->required()->check(name_arg("consumer name"));
  next->add_option("-c,--count", na->count, "Number of messages")->check(count_arg(1))->capture_default_str();
  next->add_option("-t,--timeout", na->timeout, "How long to wait for them")
      ->check(duration_arg())
      ->capture_default_str();
  auto* no_ack = next->add_flag("--no-ack", na->no_ack, "Do not acknowledge (redelivered after the ack wait)");
  auto* nak = next->add_flag("--nak", na->nak, "Negatively acknowledge: redeliver at once")->excludes(no_ack);
  next->add_flag("--term", na->term, "Terminate: no redelivery (dead-lettered where configured)")
      ->excludes(no_ack)
      ->excludes(nak);
  next->add_option("--reason", na->reason, "Reason given with --term");
  next->add_flag("--raw", na->raw, "Print only the payloads");
  on_run(out, next, conn, [na](js_client& js) { return run_next(js, *na); });
}

}  // namespace ferry::cli
