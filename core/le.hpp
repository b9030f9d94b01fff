// Little-endian loads and stores for the on-disk and on-wire formats.
#pragma once
#include <cstdint>

namespace fq {

inline uint16_t load16(const uint8_t *p) noexcept { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t load32(const uint8_t *p) noexcept {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load64(const uint8_t *p) noexcept {
  return load32(p) | uint64_t(load32(p + 4)) << 32;
}
inline void store16(uint8_t *p, uint16_t v) noexcept {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void store32(uint8_t *p, uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store64(uint8_t *p, uint64_t v) noexcept {
  store32(p, uint32_t(v));
  store32(p + 4, uint32_t(v >> 32));
}

}  // namespace fq
