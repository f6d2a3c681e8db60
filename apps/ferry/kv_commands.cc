// ferry kv add|put|get|del|watch|ls|keys: JetStream key-value buckets, laid out as nats-server
// and the NATS clients expect (stream KV_<bucket> on $KV.<bucket>.>, KV-Operation headers).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <set>

#include "checks.h"
#include "js_api.h"

namespace ferry::cli {

namespace {

std::string stream_of(const std::string& bucket) { return "KV_" + bucket; }
std::string subject_of(const std::string& bucket, const std::string& key) { return "$KV." + bucket + "." + key; }

status check_bucket_name(const std::string& b) {
  if (b.empty() ||
      b.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
    return invalid_argument("invalid bucket name \"" + b + "\" (letters, digits, '_' and '-')");
  return status::ok();
}

// Keys: letters, digits and -/_=. (not first or last); a pattern may also hold * and >.
status check_key(const std::string& k, bool pattern) {
  const std::string allowed = pattern ? "-/_=.*>" : "-/_=.";
  bool ok = !k.empty() && k.front() != '.' && k.back() != '.';
  for (char c : k) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || allowed.find(c) != std::string::npos);
  if (!ok)
    return invalid_argument("invalid key \"" + k + "\" (letters, digits and -/_=. ; not starting or ending with .)");
  // Wildcards are whole tokens, and > only the last one.
  for (std::size_t start = 0; pattern && start <= k.size();) {
    std::size_t end = k.find('.', start);
    if (end == std::string::npos) end = k.size();
    const std::string t = k.substr(start, end - start);
    if (t.empty() || (t.find_first_of("*>") != std::string::npos && t != "*" && t != ">") ||
        (t == ">" && end != k.size()))
      return invalid_argument("invalid key pattern \"" + k + "\" (* and > stand for whole tokens, > only at the end)");
    start = end + 1;
  }
  return status::ok();
}

// An error naming the bucket when its stream is missing; other errors as they are.
status bucket_error(js_client& js, const std::string& bucket, const status& s) {
  if (js.last_api_error() == err_stream_not_found) return error("bucket " + bucket + " not found");
  return s;
}

status require_bucket(js_client& js, const std::string& bucket) {
  FERRY_RETURN_IF_ERROR(check_bucket_name(bucket));
  auto info = js.stream_info(stream_of(bucket));
  return info.is_ok() ? status::ok() : bucket_error(js, bucket, info.status());
}

// "PUT", "DEL" or "PURGE", from the KV-Operation header.
std::string operation_of(const header_list& h) {
  for (const auto& [k, v] : h) {
    if (k == "KV-Operation") return v;
  }
  return "PUT";
}

std::string key_of(const std::string& bucket, const std::string& subject) {
  const std::string prefix = "$KV." + bucket + ".";
  return subject.rfind(prefix, 0) == 0 ? subject.substr(prefix.size()) : subject;
}

struct kv_add_args {
  std::string bucket, ttl = "0", storage = "file", max_value_size = "-1";
  std::int64_t history = 1;
};

status run_kv_add(js_client& js, const kv_add_args& a) {
  FERRY_RETURN_IF_ERROR(check_bucket_name(a.bucket));
  if (a.history < 1 || a.history > 64) return invalid_argument("--history must be between 1 and 64");
  FERRY_ASSIGN_OR_RETURN(std::int64_t ttl, parse_duration_ns(a.ttl));
  FERRY_ASSIGN_OR_RETURN(std::int64_t max_value, parse_size(a.max_value_size, true));
  constexpr std::int64_t two_minutes = 120'000'000'000;
  ojson cfg;
  cfg["name"] = stream_of(a.bucket);
  cfg["subjects"] = {subject_of(a.bucket, ">")};
  cfg["retention"] = "limits";
  cfg["max_consumers"] = -1;
  cfg["max_msgs"] = -1;
  cfg["max_bytes"] = -1;
  cfg["max_age"] = ttl;
  cfg["max_msgs_per_subject"] = a.history;
  cfg["max_msg_size"] = max_value;
  cfg["discard"] = "new";
  cfg["storage"] = a.storage;
  cfg["num_replicas"] = 1;
  cfg["duplicate_window"] = ttl > 0 && ttl < two_minutes ? ttl : two_minutes;
  cfg["allow_rollup_hdrs"] = true;
  cfg["deny_delete"] = true;
  cfg["allow_direct"] = true;
  FERRY_RETURN_IF_ERROR(js.request("STREAM.CREATE." + stream_of(a.bucket), cfg, "bucket " + a.bucket).status());
  std::printf("Created bucket %s (history %lld, ttl %s, %s storage)\n", a.bucket.c_str(),
              static_cast<long long>(a.history), ttl > 0 ? format_ns(ttl).c_str() : "none", a.storage.c_str());
  return status::ok();
}

struct key_args {
  std::string bucket, key, value;
  std::uint64_t revision = 0;
  bool purge = false, raw = false;
};

status run_put(js_client& js, const key_args& a) {
  FERRY_RETURN_IF_ERROR(check_key(a.key, false));
  FERRY_RETURN_IF_ERROR(require_bucket(js, a.bucket));
  std::string value = a.value;
  if (value == "-") value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  FERRY_ASSIGN_OR_RETURN(ojson ack, js.publish(subject_of(a.bucket, a.key), {}, value));
  std::printf("%s > %s revision %llu\n", a.bucket.c_str(), a.key.c_str(),
              static_cast<unsigned long long>(ack.value("seq", std::uint64_t{0})));
  return status::ok();
}

status run_get(js_client& js, const key_args& a) {
  FERRY_RETURN_IF_ERROR(check_key(a.key, false));
  FERRY_RETURN_IF_ERROR(check_bucket_name(a.bucket));
  const std::string subject = subject_of(a.bucket, a.key);
  auto m = js.get_message(stream_of(a.bucket), a.revision, a.revision == 0 ? subject : "");
  const std::string what = a.bucket + " > " + a.key;
  if (!m.is_ok()) {
    if (m.status().code() != status_code::not_found) return bucket_error(js, a.bucket, m.status());
    return error(what + (a.revision == 0 ? ": key not found" : ": no revision " + std::to_string(a.revision)));
  }
  if (m->subject != subject) {
    return error(what + ": revision " + std::to_string(a.revision) + " is of key " + key_of(a.bucket, m->subject));
  }
  const std::string op = operation_of(m->headers);
  if (op != "PUT") {
    return error(what + ": key not found (" + (op == "DEL" ? "deleted" : "purged") + " at revision " +
                 std::to_string(m->seq) + ")");
  }
  if (a.raw) {
    print_payload(m->data);
    return status::ok();
  }
  std::printf("%s revision %llu created %s\n\n", what.c_str(), static_cast<unsigned long long>(m->seq),
              m->time.c_str());
  print_payload(m->data);
  return status::ok();
}

status run_del(js_client& js, const key_args& a) {
  FERRY_RETURN_IF_ERROR(check_key(a.key, false));
  FERRY_RETURN_IF_ERROR(require_bucket(js, a.bucket));
  header_list h{{"KV-Operation", a.purge ? "PURGE" : "DEL"}};
  // A purge also drops the key's history: a roll-up of its subject.
  if (a.purge) h.emplace_back("Nats-Rollup", "sub");
  FERRY_RETURN_IF_ERROR(js.publish(subject_of(a.bucket, a.key), h, {}).status());
  std::printf("%s %s > %s\n", a.purge ? "Purged" : "Deleted", a.bucket.c_str(), a.key.c_str());
  return status::ok();
}

// An ephemeral pull consumer on a bucket (no acks), deleted when done.
class bucket_reader {
 public:
  bucket_reader(js_client& js, std::string bucket) : js_(js), bucket_(std::move(bucket)) {}
  ~bucket_reader() {
    p_.reset();
    if (!name_.empty()) (void)js_.delete_consumer(stream_of(bucket_), name_);
  }
  status open(const std::string& pattern, bool headers_only) {
    FERRY_RETURN_IF_ERROR(require_bucket(js_, bucket_));
    ojson cfg;
    cfg["deliver_policy"] = "last_per_subject";
    cfg["ack_policy"] = "none";
    cfg["filter_subject"] = subject_of(bucket_, pattern);
    cfg["replay_policy"] = "instant";
    if (headers_only) cfg["headers_only"] = true;
    cfg["inactive_threshold"] = std::int64_t{60'000'000'000};
    ojson req;
    req["stream_name"] = stream_of(bucket_);
    req["config"] = std::move(cfg);
    FERRY_ASSIGN_OR_RETURN(ojson r, js_.request("CONSUMER.CREATE." + stream_of(bucket_), req, "bucket " + bucket_));
    name_ = r.value("name", std::string());
    p_ = std::make_unique<puller>(js_, stream_of(bucket_), name_);
    return status::ok();
  }
  puller& p() { return *p_; }

 private:
  js_client& js_;
  std::string bucket_, name_;
  std::unique_ptr<puller> p_;
};

struct watch_args {
  std::string bucket, pattern = ">";
  long count = 0;
};

status run_watch(js_client& js, const watch_args& a) {
  FERRY_RETURN_IF_ERROR(check_key(a.pattern, true));
  bucket_reader r(js, a.bucket);
  FERRY_RETURN_IF_ERROR(r.open(a.pattern, false));
  long n = 0;
  while (a.count == 0 || n < a.count) {
    if (!r.p().active()) FERRY_RETURN_IF_ERROR(r.p().pull(256, std::chrono::seconds(10), false));
    FERRY_ASSIGN_OR_RETURN(msg_ptr m, r.p().next(std::chrono::seconds(12)));
    if (!m) continue;
    ++n;
    const header_list h = headers_of(m.get());
    const std::string op = operation_of(h);
    auto md = parse_ack_subject(natsMsg_GetReply(m.get()) ? natsMsg_GetReply(m.get()) : "");
    std::printf("[%s] %s %s > %s", md ? format_rfc3339(md->timestamp_ns).c_str() : "?", op.c_str(), a.bucket.c_str(),
                key_of(a.bucket, natsMsg_GetSubject(m.get())).c_str());
    if (md) std::printf(" revision %llu", static_cast<unsigned long long>(md->stream_seq));
    if (op == "PUT") {
      std::printf(": ");
      print_payload(
          std::string_view(natsMsg_GetData(m.get()), static_cast<std::size_t>(natsMsg_GetDataLength(m.get()))));
    } else {
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  return status::ok();
}

status run_keys(js_client& js, const std::string& bucket) {
  bucket_reader r(js, bucket);
  FERRY_RETURN_IF_ERROR(r.open(">", true));
  std::set<std::string> keys;
  constexpr long batch = 256;
  for (;;) {
    FERRY_RETURN_IF_ERROR(r.p().pull(batch, std::chrono::seconds(5), /*no_wait=*/true));
    long got = 0;
    for (;;) {
      FERRY_ASSIGN_OR_RETURN(msg_ptr m, r.p().next(std::chrono::seconds(6)));
      if (!m) break;
      ++got;
      if (operation_of(headers_of(m.get())) == "PUT") keys.insert(key_of(bucket, natsMsg_GetSubject(m.get())));
    }
    if (got < batch) break;
  }
  if (keys.empty()) std::fprintf(stderr, "No keys in bucket %s\n", bucket.c_str());
  for (const std::string& k : keys) std::printf("%s\n", k.c_str());
  return status::ok();
}

status run_ls(js_client& js) {
  FERRY_ASSIGN_OR_RETURN(std::vector<ojson> all, js.list("STREAM.LIST", "streams", "listing buckets"));
  std::vector<std::vector<std::string>> rows{{"BUCKET", "VALUES", "HISTORY", "TTL", "BYTES"}};
  for (const ojson& s : all) {
    const std::string name = s["config"].value("name", std::string());
    if (name.rfind("KV_", 0) != 0) continue;
    const std::int64_t ttl = s["config"].value("max_age", std::int64_t{0});
    rows.push_back({name.substr(3), std::to_string(s["state"].value("messages", std::uint64_t{0})),
                    std::to_string(s["config"].value("max_msgs_per_subject", std::int64_t{0})),
                    ttl > 0 ? format_ns(ttl) : "-", format_bytes(s["state"].value("bytes", std::int64_t{0}))});
  }
  if (rows.size() == 1) {
    std::printf("No key-value buckets\n");
    return status::ok();
  }
  std::sort(rows.begin() + 1, rows.end());
  print_table(rows);
  return status::ok();
}

}  // namespace

void add_kv_commands(CLI::App& app, const connect_options& conn, command_list& out) {
  auto* g = app.add_subcommand("kv", "Key-value buckets on JetStream");
  g->require_subcommand(1);

  auto aa = std::make_shared<kv_add_args>();
  auto* add = g->add_subcommand("add", "Create a bucket");
  add->add_option("bucket", aa->bucket, "Bucket name")->required();
  add->add_option("--history", aa->history, "Values kept per key (1 to 64)")->capture_default_str();
  add->add_option("--ttl", aa->ttl, "How long values live, e.g. 1h (0: forever)")
      ->check(duration_arg())
      ->capture_default_str();
  add->add_option("--max-value-size", aa->max_value_size, "Largest value, e.g. 1MiB (-1: the server's limit)")
      ->transform(size_arg(true))
      ->capture_default_str();
  add->add_option("--storage", aa->storage, "file or memory")
      ->check(CLI::IsMember({"file", "memory"}))
      ->capture_default_str();
  on_run(out, add, conn, [aa](js_client& js) { return run_kv_add(js, *aa); });

  auto pa = std::make_shared<key_args>();
  auto* put = g->add_subcommand("put", "Set a key's value and print the new revision");
  put->add_option("bucket", pa->bucket, "Bucket name")->required();
  put->add_option("key", pa->key, "Key")->required();
  put->add_option("value", pa->value, "Value (- reads it from standard input)")->required();
  on_run(out, put, conn, [pa](js_client& js) { return run_put(js, *pa); });

  auto ga = std::make_shared<key_args>();
  auto* get = g->add_subcommand("get", "Print a key's value (or an older revision)");
  get->add_option("bucket", ga->bucket, "Bucket name")->required();
  get->add_option("key", ga->key, "Key")->required();
  get->add_option("-r,--revision", ga->revision, "This revision instead of the latest")->check(count_arg(1));
  get->add_flag("--raw", ga->raw, "Print only the value");
  on_run(out, get, conn, [ga](js_client& js) { return run_get(js, *ga); });

  auto da = std::make_shared<key_args>();
  auto* del = g->add_subcommand("del", "Delete a key (a delete marker; --purge also drops its history)");
  del->alias("rm");
  del->add_option("bucket", da->bucket, "Bucket name")->required();
  del->add_option("key", da->key, "Key")->required();
  del->add_flag("--purge", da->purge, "Remove the key's history too");
  on_run(out, del, conn, [da](js_client& js) { return run_del(js, *da); });

  auto wa = std::make_shared<watch_args>();
  auto* watch = g->add_subcommand("watch", "Print the latest value of each key, then every change");
  watch->add_option("bucket", wa->bucket, "Bucket name")->required();
  watch->add_option("pattern", wa->pattern, "Keys to watch (wildcards * and >)")->capture_default_str();
  watch->add_option("-c,--count", wa->count, "Exit after this many entries (0: never)")
      ->check(count_arg())
      ->capture_default_str();
  on_run(out, watch, conn, [wa](js_client& js) { return run_watch(js, *wa); });

  auto* ls = g->add_subcommand("ls", "List the buckets");
  on_run(out, ls, conn, [](js_client& js) { return run_ls(js); });

  auto kb = std::make_shared<std::string>();
  auto* keys = g->add_subcommand("keys", "List a bucket's keys (those not deleted)");
  keys->add_option("bucket", *kb, "Bucket name")->required();
  on_run(out, keys, conn, [kb](js_client& js) { return run_keys(js, *kb); });
}

}  // namespace ferry::cli
