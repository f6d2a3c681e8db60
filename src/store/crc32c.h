// crc32c: CRC-32C (Castagnoli), the checksum of every file_store record.
//
// On x86-64 with SSE 4.2 (checked at run time) the CPU's crc32 instruction, 8 bytes at a time;
// elsewhere table-driven, slicing by eight bytes. The same polynomial and bit order as iSCSI,
// ext4 and LevelDB, so crc32c("123456789") == 0xE3069283.
// Pure functions; the tables are built at compile time. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry::store {

// Extends `crc` (the CRC of some earlier bytes, or 0 to start) over `n` more bytes.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n);

// The table-driven version, whatever the CPU (for tests: both must agree).
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t n);

inline std::uint32_t crc32c(std::string_view s) { return crc32c_extend(0, s.data(), s.size()); }

}  // namespace ferry::store
