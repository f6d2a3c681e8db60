// streams: the JetStream transport's view of its streams: creating or binding them at connect,
// and finding the stream that captures a subject.
#pragma once

#include <nats/nats.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/jetstream.h"
#include "ferry/result.h"

namespace ferry::jetstream::detail {

struct bound_stream {
  std::string name;
  std::vector<std::string> subjects;
};

// True if some subject matches both patterns (`*` one token, a final `>` one or more).
bool subjects_overlap(std::string_view a, std::string_view b);

// Creates each stream of `o` that is missing (when o.create_streams) or binds it as it is.
result<std::vector<bound_stream>> setup_streams(jsCtx* js, const options& o);

// The stream whose subjects overlap `subject`, or nullptr. invalid_argument (through `error`)
// when several do.
const bound_stream* stream_for(const std::vector<bound_stream>& streams, std::string_view subject, status* error);

// The ferry status for a failed JetStream call.
status from_js(natsStatus s, jsErrCode code, std::string_view what);

// Whether a JetStream API call failed only because no server could answer it yet: the request
// timed out, or the cluster has no leader (10008). A cluster electing its meta leader after a
// node was killed answers nothing for seconds. Not "no responders": every server with JetStream
// listens on the API, so nats.c rightly reads it as JetStream not enabled (10076).
bool no_answer_yet(natsStatus s, jsErrCode code);

// Calls `once` until it succeeds, or fails without setting its `retry` (only a failure for want
// of an answer sets it), or `keep_asking` (when given) says no: 25 ms doubling to 250 ms between
// tries, for up to o.setup_timeout. The last failure then says how many tries were made.
status ask_until_answered(const options& o, const std::function<status(bool& retry)>& once,
                          const std::function<bool()>& keep_asking = {});

}  // namespace ferry::jetstream::detail
