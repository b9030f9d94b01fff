// Futex wait and wake on a 32-bit word in a MAP_SHARED mapping, so processes
// that map the same file can sleep on it. Not private futexes: the word is
// shared between processes.
#pragma once
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>

#include "deadline.hpp"
#include "errc.hpp"

namespace fq {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word must be 32 bits");

// Sleeps while `*word == expected`, until woken, the deadline passes
// (TIMEDOUT) or a signal arrives (INTR). A changed word returns ok at once.
inline Errc futex_wait(std::atomic<uint32_t> &word, uint32_t expected, const Deadline &d) noexcept {
  timespec abs = d.absolute();
  const long r = syscall(SYS_futex, reinterpret_cast<uint32_t *>(&word), FUTEX_WAIT_BITSET,
                         expected, d.forever() ? nullptr : &abs, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (r == 0) return Errc::ok;
  switch (errno) {
    case EAGAIN:
      return Errc::ok;
    case ETIMEDOUT:
      return Errc::TIMEDOUT;
    case EINTR:
      return Errc::INTR;
    default:
      return Errc::SYS;
  }
}

inline void futex_wake_all(std::atomic<uint32_t> &word) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace fq
