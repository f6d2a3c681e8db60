#include "broker/js/errors.h"

namespace ferry::broker::js::errors {

namespace {
api_error e(int code, int err_code, std::string d) { return {code, err_code, std::move(d)}; }
}  // namespace

api_error bad_request() { return e(400, 10003, "bad request"); }
api_error invalid_json() { return e(400, 10025, "invalid JSON"); }
api_error not_enabled_for_account() { return e(503, 10039, "JetStream not enabled for account"); }
api_error stream_not_found() { return e(404, 10059, "stream not found"); }
api_error consumer_not_found() { return e(404, 10014, "consumer not found"); }
api_error no_message_found() { return e(404, 10037, "no message found"); }
api_error stream_name_exists() { return e(400, 10058, "stream name already in use with a different configuration"); }
api_error subjects_overlap() { return e(400, 10065, "subjects overlap with an existing stream"); }
api_error stream_mismatch() { return e(400, 10056, "stream name in subject does not match request"); }
api_error stream_name_has_separators() { return e(400, 10128, "Stream name can not contain path separators"); }
api_error stream_invalid_config(const std::string& d) { return e(500, 10052, d); }
api_error stream_update(const std::string& d) { return e(500, 10069, d); }
api_error stream_msg_delete_failed(const std::string& d) { return e(500, 10057, d); }
api_error stream_purge_failed(const std::string& d) { return e(500, 10110, d); }
api_error stream_delete(const std::string& d) { return e(500, 10050, d); }
api_error stream_wrong_last_sequence(std::uint64_t seq) {
  return e(400, 10071, "wrong last sequence: " + std::to_string(seq));
}
api_error stream_wrong_last_msg_id(const std::string& id) { return e(400, 10070, "wrong last msg ID: " + id); }
api_error stream_not_match() { return e(400, 10060, "expected stream does not match"); }
api_error message_too_large() { return e(400, 10054, "message size exceeds maximum allowed"); }
api_error header_too_large() { return e(400, 10097, "header size exceeds maximum allowed of 64k"); }
api_error stream_store_failed(const std::string& d) { return e(503, 10077, d); }
api_error insufficient_resources() { return e(503, 10023, "insufficient resources"); }
api_error stream_rollup_failed(const std::string& d) { return e(500, 10111, d); }
api_error stream_sealed() { return e(400, 10109, "invalid operation on sealed stream"); }
api_error sequence_not_found(std::uint64_t seq) { return e(400, 10043, "sequence " + std::to_string(seq) + " not found"); }
api_error consumer_name_exists() { return e(400, 10013, "consumer name already in use"); }
api_error consumer_already_exists() { return e(400, 10148, "consumer already exists"); }
api_error consumer_does_not_exist() { return e(400, 10149, "consumer does not exist"); }
api_error consumer_durable_name_mismatch() {
  return e(400, 10017, "consumer name in subject does not match durable name in request");
}
api_error consumer_ephemeral_with_durable() {
  return e(400, 10020, "consumer expected to be ephemeral but a durable name was set in request");
}
api_error consumer_ephemeral_with_durable_in_subject() {
  return e(400, 10019, "consumer expected to be ephemeral but detected a durable name set in subject");
}
api_error consumer_durable_and_name_mismatch() {
  return e(400, 10132, "Consumer Durable and Name have to be equal if both are provided");
}
api_error consumer_filter_subject_mismatch() {
  return e(400, 10131, "Consumer create request did not match filtered subject from create subject");
}
api_error consumer_create(const std::string& d) { return e(500, 10012, d); }
api_error consumer_deliver_cycle() { return e(400, 10081, "consumer deliver subject forms a cycle"); }
api_error consumer_deliver_to_wildcards() { return e(400, 10079, "consumer deliver subject has wildcards"); }
api_error consumer_invalid_deliver_subject() { return e(400, 10112, "invalid push consumer deliver subject"); }
api_error consumer_push_max_waiting() { return e(400, 10080, "consumer in push mode can not set max waiting"); }
api_error consumer_max_pending_ack_policy() {
  return e(400, 10082, "consumer requires ack policy for max ack pending");
}
api_error consumer_small_heartbeat() { return e(400, 10083, "consumer idle heartbeat needs to be >= 100ms"); }
api_error consumer_hb_requires_push() { return e(400, 10088, "consumer idle heartbeat requires a push based consumer"); }
api_error consumer_fc_requires_push() { return e(400, 10089, "consumer flow control requires a push based consumer"); }
api_error consumer_fc_needs_heartbeats() { return e(400, 10108, "consumer with flow control also needs heartbeats"); }
api_error consumer_filter_not_subset() {
  return e(400, 10093, "consumer filter subject is not a valid subset of the interest subjects");
}
api_error consumer_invalid_policy(const std::string& d) { return e(400, 10094, d); }
api_error consumer_wq_requires_explicit_ack() { return e(400, 10098, "workqueue stream requires explicit ack"); }
api_error consumer_wq_multiple_unfiltered() {
  return e(400, 10099, "multiple non-filtered consumers not allowed on workqueue stream");
}
api_error consumer_wq_not_unique() { return e(400, 10100, "filtered consumer not unique on workqueue stream"); }
api_error consumer_wq_not_deliver_all() { return e(400, 10101, "consumer must be deliver all on workqueue stream"); }
api_error consumer_bad_durable_name() { return e(400, 10103, "durable name can not contain '.', '*', '>'"); }
api_error replicas_negative() { return e(400, 10133, "replicas count cannot be negative"); }
api_error consumer_replicas_exceed_stream() {
  return e(400, 10126, "consumer config replica count exceeds parent stream");
}
api_error consumer_description_too_long() {
  return e(400, 10107, "consumer description is too long, maximum allowed is 4096");
}
api_error consumer_pull_requires_ack() { return e(400, 10084, "consumer in pull mode requires ack policy"); }
api_error consumer_pull_with_rate_limit() { return e(400, 10086, "consumer in pull mode can not have rate limit set"); }
api_error consumer_max_request_batch_negative() { return e(400, 10114, "consumer max request batch needs to be > 0"); }
api_error consumer_max_request_expires_too_small() {
  return e(400, 10115, "consumer max request expires needs to be >= 1ms");
}
api_error consumer_invalid_sampling(const std::string& value) {
  return e(400, 10095,
           "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"" + value + "\": invalid syntax");
}
api_error consumer_name_has_separators() { return e(400, 10127, "Consumer name can not contain path separators"); }
api_error consumer_max_deliver_backoff() {
  return e(400, 10116, "max deliver is required to be > length of backoff values");
}
api_error consumer_max_waiting_negative() { return e(400, 10087, "consumer max waiting needs to be positive"); }
api_error consumer_replacement_different() {
  return e(400, 10106, "consumer replacement durable config not the same");
}
api_error not_empty_request() { return e(400, 10038, "expected an empty request payload"); }
api_error consumer_durable_name_not_set() {
  return e(400, 10018, "consumer expected to be durable but a durable name was not set");
}
api_error maximum_consumers_limit() { return e(400, 10026, "maximum consumers limit reached"); }
api_error replicas_not_supported() { return e(500, 10074, "replicas > 1 not supported in non-clustered mode"); }
api_error not_supported(const std::string& what) { return e(400, 10999, what + " is not supported by ferryd"); }

std::string without_paths(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const bool word_start = i == 0 || text[i - 1] == ' ';
    if (word_start && text[i] == '/') {
      std::size_t end = text.find(' ', i);
      if (end == std::string_view::npos) end = text.size();
      std::string_view word = text.substr(i, end - i);
      // Keep a trailing ':' or ',' that ends the path in a message.
      std::string_view tail;
      while (!word.empty() && (word.back() == ':' || word.back() == ',')) {
        tail = text.substr(i + word.size() - 1, tail.size() + 1);
        word.remove_suffix(1);
      }
      out += word.substr(word.rfind('/') + 1);
      out += tail;
      i = end;
      continue;
    }
    out += text[i++];
  }
  return out;
}

std::vector<api_error> all() {
  return {
      bad_request(),
      invalid_json(),
      not_enabled_for_account(),
      stream_not_found(),
      consumer_not_found(),
      no_message_found(),
      stream_name_exists(),
      subjects_overlap(),
      stream_mismatch(),
      stream_name_has_separators(),
      stream_invalid_config("<detail>"),
      stream_update("<detail>"),
      stream_msg_delete_failed("<detail>"),
      stream_purge_failed("<detail>"),
      stream_delete("<detail>"),
      stream_wrong_last_sequence(0),
      stream_wrong_last_msg_id("<detail>"),
      stream_not_match(),
      message_too_large(),
      header_too_large(),
      stream_store_failed("<detail>"),
      insufficient_resources(),
      stream_rollup_failed("<detail>"),
      stream_sealed(),
      sequence_not_found(0),
      consumer_name_exists(),
      consumer_already_exists(),
      consumer_does_not_exist(),
      consumer_durable_name_mismatch(),
      consumer_ephemeral_with_durable(),
      consumer_ephemeral_with_durable_in_subject(),
      consumer_durable_and_name_mismatch(),
      consumer_filter_subject_mismatch(),
      consumer_create("<detail>"),
      consumer_deliver_cycle(),
      consumer_deliver_to_wildcards(),
      consumer_invalid_deliver_subject(),
      consumer_push_max_waiting(),
      consumer_max_pending_ack_policy(),
      consumer_small_heartbeat(),
      consumer_hb_requires_push(),
      consumer_fc_requires_push(),
      consumer_fc_needs_heartbeats(),
      consumer_filter_not_subset(),
      consumer_invalid_policy("<detail>"),
      consumer_wq_requires_explicit_ack(),
      consumer_wq_multiple_unfiltered(),
      consumer_wq_not_unique(),
      consumer_wq_not_deliver_all(),
      consumer_bad_durable_name(),
      consumer_name_has_separators(),
      consumer_max_deliver_backoff(),
      consumer_max_waiting_negative(),
      consumer_replacement_different(),
      not_empty_request(),
      consumer_durable_name_not_set(),
      maximum_consumers_limit(),
      replicas_not_supported(),
      replicas_negative(),
      consumer_replicas_exceed_stream(),
      consumer_description_too_long(),
      consumer_pull_requires_ack(),
      consumer_pull_with_rate_limit(),
      consumer_max_request_batch_negative(),
      consumer_max_request_expires_too_small(),
      consumer_invalid_sampling("<detail>"),
      not_supported("<detail>"),
  };
}

api_error store_failure(const status& s) {
  if (is_disk_full(s)) return insufficient_resources();
  return stream_store_failed(without_paths(s.message()));
}

}  // namespace ferry::broker::js::errors

namespace ferry::broker::js {

std::string status_line::headers(std::string_view suffix, std::string_view extra) const {
  std::string h = "NATS/1.0 " + std::to_string(code) + " ";
  h += text;
  h += suffix;
  h += "\r\n";
  h += extra;
  h += "\r\n";
  return h;
}

}  // namespace ferry::broker::js
