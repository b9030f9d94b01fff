#include "envelope.hpp"

#include <utility>

#include <time.h>

#include <algorithm>
#include <cstring>

#include "le.hpp"

namespace fq {

size_t Envelope::size() const noexcept {
  return kFixedSize + std::min(origin.size(), kMaxOrigin) + std::min(reason.size(), kMaxReason);
}

void Envelope::encode(uint8_t *out) const noexcept {
  const size_t on = std::min(origin.size(), kMaxOrigin);
  const size_t rn = std::min(reason.size(), kMaxReason);
  store16(out, uint16_t(size()));
  out[2] = 1;  // version
  out[3] = flags;
  store32(out + 4, attempts);
  store32(out + 8, deaths);
  store16(out + 12, uint16_t(on));
  store16(out + 14, uint16_t(rn));
  store64(out + 16, uint64_t(enqueued_ms));
  store64(out + 24, uint64_t(not_before_ms));
  store64(out + 32, uint64_t(first_death_ms));
  store64(out + 40, uint64_t(last_death_ms));
  if (on > 0) std::memcpy(out + kFixedSize, origin.data(), on);
  if (rn > 0) std::memcpy(out + kFixedSize + on, reason.data(), rn);
}

bool Envelope::decode(const uint8_t *p, size_t n, size_t *used) {
  if (n < kFixedSize || p[2] != 1) return false;
  const size_t total = load16(p), on = load16(p + 12), rn = load16(p + 14);
  if (on > kMaxOrigin || rn > kMaxReason || total != kFixedSize + on + rn || total > n) {
    return false;
  }
  flags = p[3];
  attempts = load32(p + 4);
  deaths = load32(p + 8);
  enqueued_ms = int64_t(load64(p + 16));
  not_before_ms = int64_t(load64(p + 24));
  first_death_ms = int64_t(load64(p + 32));
  last_death_ms = int64_t(load64(p + 40));
  origin.assign(reinterpret_cast<const char *>(p + kFixedSize), on);
  reason.assign(reinterpret_cast<const char *>(p + kFixedSize + on), rn);
  *used = total;
  return true;
}

int64_t wall_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Envelope::record_death(const std::string &why, std::string at, bool permanent,
                            int64_t now_ms) {
  reason = why;
  origin = std::move(at);
  deaths += 1;
  if (first_death_ms == 0) first_death_ms = now_ms;
  last_death_ms = now_ms;
  not_before_ms = 0;
  flags = permanent ? kPermanent : 0;
  if (enqueued_ms == 0) enqueued_ms = now_ms;
}

void Envelope::record_retry(const std::string &why, int64_t now_ms, int64_t delay_ms) {
  reason = why;
  not_before_ms = now_ms + delay_ms;
  if (enqueued_ms == 0) enqueued_ms = now_ms;
}

}  // namespace fq
