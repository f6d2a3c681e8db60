// base64: standard base64 with padding (RFC 4648 section 4), the encoding Go's encoding/json uses
// for []byte (JetStream's message get) and CloudEvents' data_base64. One copy for the broker, the
// SDK and the CLI.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry {

std::string base64_encode(std::string_view bytes);
// nullopt when `s` is not base64: a length that is not a multiple of 4, a character outside the
// alphabet, padding anywhere but at the end (whitespace is not allowed).
std::optional<std::string> base64_decode(std::string_view s);

}  // namespace ferry
