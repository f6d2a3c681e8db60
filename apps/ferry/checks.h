// checks: CLI11 validators that apply base's parsers to command-line values while they are
// parsed, so a bad subject, name, count, size or duration is a one-line error naming the option
// and the value before any connection is made.
//
//   sub->add_option("subject", a.subject, "Subject")->required()->check(subject_arg(subject_use::subscribe));
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "base/subject_check.h"

namespace ferry::cli {

// A subject for publishing (literal) or subscribing (wildcards allowed).
CLI::Validator subject_arg(subject_use use);
// A stream or consumer name as nats-server accepts it; `what`: "stream name", "consumer name".
CLI::Validator name_arg(const std::string& what);
// A whole number >= `min` (digits only: "-5", "1e3" and "0x10" are refused).
CLI::Validator count_arg(long long min = 0);
// A whole number >= -1 (-1: unlimited).
CLI::Validator limit_arg();
// A byte size ("1024", "1KB", "10MiB"); "-1" too when `allow_unlimited`. Use with ->transform():
// the option receives the number of bytes.
CLI::Validator size_arg(bool allow_unlimited);
// A duration ("500ms", "1m30s", "2h"; a bare number is seconds).
CLI::Validator duration_arg();

}  // namespace ferry::cli
