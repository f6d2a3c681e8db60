// streams: the JetStream transport's view of its streams: creating or binding them at connect,
// and finding the stream that captures a subject.
#pragma once

#include <nats/nats.h>

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

}  // namespace ferry::jetstream::detail
