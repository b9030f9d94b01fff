// The retry policy: how long a failed message waits before its next attempt,
// and when it goes to the dead-letter queue instead. Defaults and their
// relation to Celery and Sidekiq: core/README.md.
#pragma once
#include <cstdint>

#include "shared_state.hpp"

namespace fq {

// The policy with every zero field replaced by its default.
Policy effective(const Policy &p) noexcept;

// Milliseconds to wait before attempt `attempts + 1`, after `attempts`
// deliveries: min(cap, base * factor^(attempts-1)) less up to jitter% of it,
// drawn from `random`.
int64_t backoff_ms(const Policy &p, uint32_t attempts, uint64_t random) noexcept;

// True when a failure after `attempts` deliveries goes to the dead-letter queue.
inline bool gives_up(const Policy &p, uint32_t attempts, bool permanent) noexcept {
  return permanent || attempts >= effective(p).max_attempts;
}

}  // namespace fq
