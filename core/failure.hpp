// What happens to a message that failed: the policy's decision, and the way
// back from the dead-letter queue. Transport-independent: both work through
// the Transport seam.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "transport.hpp"

namespace fq {

// Retries `m` after the policy's backoff, or dead-letters it when it has had
// its attempts or `permanent`. `retry_ms` gets the delay, or -1.
Errc fail(Transport &t, Received &m, const std::string &reason, bool permanent,
          int64_t &retry_ms) noexcept;

// Moves every message now in `dlq` to `to` (empty: to its origin), attempts
// reset, history kept. Lease, send, ack: a crash duplicates, never loses.
Errc redrive(Transport &dlq, const std::string &to, size_t &moved) noexcept;

}  // namespace fq
