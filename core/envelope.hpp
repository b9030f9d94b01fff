// A message's history: attempts, deaths, where it failed and why. Travels in
// front of the payload in frames that carry flag kFlagEnvelope, and in the
// held table. Byte layout: core/README.md, "Envelopes, leases and dead letters".
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "frame.hpp"

namespace fq {

struct Envelope {
  static constexpr size_t kFixedSize = kEnvelopeFixedSize;
  static constexpr size_t kMaxOrigin = 2048;
  static constexpr size_t kMaxReason = 1024;
  static constexpr size_t kMaxSize = kFixedSize + kMaxOrigin + kMaxReason;
  static constexpr uint8_t kPermanent = 1;  // flags: the last failure was permanent

  uint32_t attempts = 0;  // deliveries so far
  uint32_t deaths = 0;    // times dead-lettered
  uint8_t flags = 0;
  int64_t enqueued_ms = 0;  // realtime ms; 0 unknown
  int64_t not_before_ms = 0;
  int64_t first_death_ms = 0;
  int64_t last_death_ms = 0;
  std::string origin;  // the queue it last failed on
  std::string reason;  // why it last failed

  // Bytes encode() writes: origin and reason are cut to their maximums.
  size_t size() const noexcept;
  // Records one more death on `origin` at `now_ms` (wall clock), why, and
  // whether it was permanent: as a dead letter carries it (x-death).
  void record_death(const std::string &why, std::string origin, bool permanent, int64_t now_ms);
  // Records a retry: why, and not to be delivered before now + delay.
  void record_retry(const std::string &why, int64_t now_ms, int64_t delay_ms);
  // Writes size() bytes to out.
  void encode(uint8_t *out) const noexcept;
  // Reads an envelope at the front of p[0..n); its size goes to *used.
  // False if the bytes are not a well-formed envelope. May throw bad_alloc.
  bool decode(const uint8_t *p, size_t n, size_t *used);
};

// Where attempts sits in an encoded envelope, so a hand-out can raise it in place.
constexpr size_t kEnvelopeAttemptsOffset = 4;

// Milliseconds since the epoch (CLOCK_REALTIME): envelope times are for people.
int64_t wall_ms() noexcept;

}  // namespace fq
