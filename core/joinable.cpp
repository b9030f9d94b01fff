#include "joinable.hpp"

#include "fifo_io.hpp"
#include "futex.hpp"

namespace fq {

Errc finish_one(StateHeader &h) noexcept {
  uint64_t n = h.unfinished.load();
  do {
    if (n == 0) return Errc::INVAL;
  } while (!h.unfinished.compare_exchange_weak(n, n - 1));
  // Only the step to zero wakes, and only if someone joins: task_done costs
  // no system call otherwise.
  if (n == 1 && h.join_waiters.load() > 0) wake_joiners(h);
  return Errc::ok;
}

void wake_joiners(StateHeader &h) noexcept {
  h.join_seq.fetch_add(1);
  futex_wake_all(h.join_seq);
}

Errc join(StateHeader &h, const Deadline &d) noexcept {
  for (;;) {
    if (h.removed.load()) return Errc::CLOSED;
    if (h.unfinished.load() == 0) return Errc::ok;
    if (d.is_poll() || d.expired()) return expired(d);
    // Count ourselves before the last look, so the step to zero after it
    // sees us and bumps join_seq, which the futex then finds changed.
    h.join_waiters.fetch_add(1);
    const uint32_t seq = h.join_seq.load();
    const bool zero = h.unfinished.load() == 0;
    const Errc e = zero ? Errc::ok : futex_wait(h.join_seq, seq, d);
    h.join_waiters.fetch_sub(1);
    if (h.removed.load()) return Errc::CLOSED;
    // join_seq moved: the count reached zero since we looked, even if a send
    // has raised it again since. Returning then keeps a busy queue from
    // starving joiners.
    if (zero || h.join_seq.load() != seq) return Errc::ok;
    if (e != Errc::ok) return e == Errc::TIMEDOUT ? expired(d) : e;
  }
}

}  // namespace fq
