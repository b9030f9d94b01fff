// A joinable queue, as Python's queue.Queue: the state counts messages sent
// and not yet marked done, and any process may wait until none is left
// (core/README.md, "Queue state").
#pragma once
#include "deadline.hpp"
#include "errc.hpp"
#include "shared_state.hpp"

namespace fq {

// One more message to finish: a sender calls it when it reserves room.
inline void add_unfinished(StateHeader &h, uint64_t n = 1) noexcept { h.unfinished.fetch_add(n); }

// One message finished, or never to be (its send failed, its payload is
// gone). Wakes the joiners when it was the last. INVAL if none is unfinished.
Errc finish_one(StateHeader &h) noexcept;

// Waits until no message is unfinished, or at least was at some moment since
// the call began. CLOSED once the queue is removed; TIMEDOUT, AGAIN (poll),
// INTR as every wait.
Errc join(StateHeader &h, const Deadline &d) noexcept;

// Wakes every joiner; fq_unlink calls it after marking the queue removed.
void wake_joiners(StateHeader &h) noexcept;

}  // namespace fq
