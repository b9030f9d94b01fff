// CRC-32C (Castagnoli), the checksum of frame headers and inline bodies.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fq {

// Extends `crc` (start with 0) over `n` bytes; feeding a buffer in pieces gives
// the same result as feeding it whole. Uses SSE4.2 when the CPU has it.
uint32_t crc32c(uint32_t crc, const void *data, size_t n) noexcept;

}  // namespace fq
