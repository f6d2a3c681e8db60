// Byte encodings the CloudEvents bindings need: percent-encoding of header values (HTTP binding
// rules, which the NATS binding 1.0.3-wip adopts), base64 (data_base64) and a UTF-8 check.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/base64.h"

namespace ferry::detail {

// Percent-encodes space, '"', '%' and every byte outside printable ASCII (0x21-0x7E), as %XX.
std::string percent_encode(std::string_view s);
// Decodes %XX sequences (either case); nullopt on a malformed sequence or a result that is not
// valid UTF-8.
std::optional<std::string> percent_decode(std::string_view s);

// Standard base64 with padding (base/base64.h).
using ferry::base64_decode;
using ferry::base64_encode;

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace ferry::detail
