// number: parsers of counts and sizes given as text (command-line options, URLs, config), with
// overflow checks and errors that name the bad value. Pure functions.
//
//   FERRY_ASSIGN_OR_RETURN(std::int64_t bytes, ferry::parse_size("10MB"));   // 10485760
//   FERRY_ASSIGN_OR_RETURN(std::uint64_t seq, ferry::parse_uint("42", "sequence"));
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace ferry {

// Decimal digits only ("+", "-", spaces, "0x" refused); invalid_argument naming `what` when `s`
// is not a number or is above `max`.
result<std::uint64_t> parse_uint(std::string_view s, std::string_view what, std::uint64_t max = UINT64_MAX);

// A byte count: digits with an optional unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB (any case;
// powers of 1024, as nats-server's config reads them); "-1" (unlimited) when `allow_unlimited`.
// Overflow of int64 is an error.
result<std::int64_t> parse_size(std::string_view s, bool allow_unlimited = false);

}  // namespace ferry
