// JetStream API errors: nats-server's HTTP-like codes, error codes and descriptions
// (server/errors.json), in one place. A reply carries
// {"error":{"code":<code>,"err_code":<err_code>,"description":"..."}}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ferry::broker::js {

// Must be used, as status and result are: an error dropped without a word is a bug.
struct [[nodiscard]] api_error {
  int code = 0;  // 400, 404, 500, 503
  int err_code = 0;
  std::string description;
  [[nodiscard]] bool ok() const { return code == 0; }
};

// A value, or the API error that explains why there is none.
template <class T>
class [[nodiscard]] api_result {
 public:
  api_result(T v) : v_(std::move(v)) {}           // NOLINT
  api_result(api_error e) : e_(std::move(e)) {}   // NOLINT
  [[nodiscard]] bool ok() const { return v_.has_value(); }
  T& value() { return *v_; }
  const T& value() const { return *v_; }
  [[nodiscard]] const api_error& error() const { return e_; }

 private:
  std::optional<T> v_;
  api_error e_;
};

namespace errors {
api_error bad_request();                                        // 400 10003
api_error invalid_json();                                       // 400 10025
api_error not_enabled_for_account();                            // 503 10039
api_error stream_not_found();                                   // 404 10059
api_error consumer_not_found();                                 // 404 10014
api_error no_message_found();                                   // 404 10037
api_error stream_name_exists();                                 // 400 10058
api_error subjects_overlap();                                   // 400 10065
api_error stream_mismatch();                                    // 400 10056
api_error stream_name_has_separators();                         // 400 10128
api_error stream_invalid_config(const std::string& detail);     // 500 10052
api_error stream_update(const std::string& detail);             // 500 10069
api_error stream_msg_delete_failed(const std::string& detail);  // 500 10057
api_error stream_purge_failed(const std::string& detail);       // 500 10110
api_error stream_delete(const std::string& detail);             // 500 10050
api_error stream_wrong_last_sequence(std::uint64_t seq);        // 400 10071
api_error stream_wrong_last_msg_id(const std::string& id);      // 400 10070
api_error stream_not_match();                                   // 400 10060
api_error message_too_large();                                  // 400 10054
api_error header_too_large();                                   // 400 10097
api_error stream_store_failed(const std::string& detail);       // 503 10077
api_error insufficient_resources();                             // 503 10023
api_error stream_rollup_failed(const std::string& detail);      // 500 10111
api_error stream_sealed();                                      // 400 10109
api_error sequence_not_found(std::uint64_t seq);                // 400 10043
api_error consumer_name_exists();                               // 400 10013
api_error consumer_already_exists();                            // 400 10148
api_error consumer_does_not_exist();                            // 400 10149
api_error consumer_durable_name_mismatch();                     // 400 10017
api_error consumer_ephemeral_with_durable();                    // 400 10020
api_error consumer_ephemeral_with_durable_in_subject();         // 400 10019
api_error consumer_durable_and_name_mismatch();                 // 400 10132
api_error consumer_filter_subject_mismatch();                   // 400 10131
api_error consumer_create(const std::string& detail);           // 500 10012
api_error consumer_deliver_cycle();                             // 400 10081
api_error consumer_deliver_to_wildcards();                      // 400 10079
api_error consumer_invalid_deliver_subject();                   // 400 10112
api_error consumer_push_max_waiting();                          // 400 10080
api_error consumer_max_pending_ack_policy();                    // 400 10082
api_error consumer_small_heartbeat();                           // 400 10083
api_error consumer_hb_requires_push();                          // 400 10088
api_error consumer_fc_requires_push();                          // 400 10089
api_error consumer_fc_needs_heartbeats();                       // 400 10108
api_error consumer_filter_not_subset();                         // 400 10093
api_error consumer_invalid_policy(const std::string& detail);   // 400 10094
api_error consumer_wq_requires_explicit_ack();                  // 400 10098
api_error consumer_wq_multiple_unfiltered();                    // 400 10099
api_error consumer_wq_not_unique();                             // 400 10100
api_error consumer_wq_not_deliver_all();                        // 400 10101
api_error consumer_bad_durable_name();                          // 400 10103
api_error consumer_name_has_separators();                       // 400 10127
api_error consumer_max_deliver_backoff();                       // 400 10116
api_error consumer_max_waiting_negative();                      // 400 10087
api_error consumer_replacement_different();                     // 400 10106
api_error not_empty_request();                                  // 400 10038
api_error consumer_durable_name_not_set();                      // 400 10018
api_error maximum_consumers_limit();                            // 400 10026
api_error replicas_not_supported();                             // 500 10074
api_error replicas_negative();                                  // 400 10133
api_error consumer_replicas_exceed_stream();                    // 400 10126
api_error consumer_description_too_long();                      // 400 10107
api_error consumer_pull_requires_ack();                         // 400 10084
api_error consumer_pull_with_rate_limit();                      // 400 10086
api_error consumer_max_request_batch_negative();                // 400 10114
api_error consumer_max_request_expires_too_small();             // 400 10115
api_error consumer_invalid_sampling(const std::string& value);  // 400 10095
api_error not_supported(const std::string& what);               // 400 10999 (ferryd: feature absent)

// What a client is told when the store failed: a full disk (ENOSPC, EDQUOT) is "insufficient
// resources" (10023) as nats-server answers it; anything else "stream store failed" (10077) with
// the store's text, whose file paths are cut to their last component (clients learn which file,
// not where the server keeps its data).
api_error store_failure(const status& s);
// `text` with every word that starts with '/' cut to what follows its last '/'.
std::string without_paths(std::string_view text);

// Every error above (those with a detail carry "<detail>"): the table tests and docs list.
std::vector<api_error> all();
}  // namespace errors

// A status message JetStream sends (a headers-only message "NATS/1.0 <code> <text>"), with
// nats-server's code and text (consumer.go, stream.go).
struct status_line {
  int code;
  std::string_view text;
  // "NATS/1.0 <code> <text>" + `suffix`, CRLF, the extra header lines (each ending in CRLF),
  // and the blank line.
  [[nodiscard]] std::string headers(std::string_view suffix = {}, std::string_view extra = {}) const;
};

namespace statuses {
// Push consumers.
inline constexpr status_line flow_control{100, "FlowControl Request"};
inline constexpr status_line idle_heartbeat{100, "Idle Heartbeat"};  // push and pull
// Pull requests (CONSUMER.MSG.NEXT).
inline constexpr status_line invalid_request{400, "Bad Request - invalid character in the request"};
inline constexpr status_line heartbeat_too_large{400, "Bad Request - heartbeat value too large"};
inline constexpr status_line no_messages{404, "No Messages"};
inline constexpr status_line request_timeout{408, "Request Timeout"};
inline constexpr status_line push_based{409, "Consumer is push based"};
inline constexpr status_line exceeded_max_waiting{409, "Exceeded MaxWaiting"};
inline constexpr status_line exceeded_max_batch{409, "Exceeded MaxRequestBatch of"};      // + " <n>"
inline constexpr status_line exceeded_max_expires{409, "Exceeded MaxRequestExpires of"};  // + " <duration>"
inline constexpr status_line exceeded_max_bytes{409, "Exceeded MaxRequestMaxBytes of"};   // + " <n>"
inline constexpr status_line message_exceeds_max_bytes{409, "Message Size Exceeds MaxBytes"};
inline constexpr status_line consumer_deleted{409, "Consumer Deleted"};
// Direct get (DIRECT.GET).
inline constexpr status_line message_not_found{404, "Message Not Found"};
inline constexpr status_line direct_bad_request{408, "Bad Request"};
inline constexpr status_line direct_empty_request{408, "Empty Request"};
inline constexpr status_line direct_malformed_request{408, "Malformed Request"};

// Every status line above, in that order.
inline constexpr status_line all[] = {
    flow_control,
    idle_heartbeat,
    invalid_request,
    heartbeat_too_large,
    no_messages,
    request_timeout,
    push_based,
    exceeded_max_waiting,
    exceeded_max_batch,
    exceeded_max_expires,
    exceeded_max_bytes,
    message_exceeds_max_bytes,
    consumer_deleted,
    message_not_found,
    direct_bad_request,
    direct_empty_request,
    direct_malformed_request,
};
}  // namespace statuses

}  // namespace ferry::broker::js
