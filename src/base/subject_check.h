// subject_check: the one validator of subjects that programs and transports receive from users
// (SDK publish and subscribe on every transport, the CLI), with an error that says what is wrong.
//
//   FERRY_RETURN_IF_ERROR(ferry::check_subject(m.subject, ferry::subject_use::publish));
//
// NATS rules: tokens separated by '.', each non-empty, without whitespace or control bytes
// (a subject built from user data must never be able to end or rewrite a protocol line). `*`
// (one token) and `>` (the rest, last token only) are wildcards in subscriptions; a published
// subject has no '*' or '>' at all, so nothing is "published" to a pattern nobody can match.
// The broker applies nats-server's own rule to what arrives on the wire (protocol/subject.h).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace ferry {

enum class subject_use {
  publish,    // a literal subject: no wildcard characters
  subscribe,  // `*` and a final `>` as whole tokens are wildcards
};

// ok, or invalid_argument: `invalid subject "foo bar": whitespace in token 1 ("foo bar")`.
status check_subject(std::string_view subject, subject_use use);

// Stream, consumer and dead-letter names as nats-server takes them: 1 to 255 bytes, no whitespace,
// no '.', '*', '>' (they appear in API subjects) and no path separators (they name files).
bool is_valid_name(std::string_view name);
// ok, or invalid_argument: `invalid stream name "a.b": '.' is not allowed in a name` (`what` is
// e.g. "stream name").
status check_name(std::string_view name, std::string_view what);

// `s` with control bytes and non-ASCII written as \r, \n, \t, \0, \xNN, for a one-line message.
std::string printable(std::string_view s);

}  // namespace ferry
