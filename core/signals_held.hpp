// Holds off asynchronous signals while the broker transport talks to
// RabbitMQ. librabbitmq retries EINTR inside its own waits, so a signal that
// arrived there would reach its handler but never the caller (Ctrl-C lost in
// a blocking receive). Held, it stays pending until our own wait, which
// takes it with the caller's mask and returns FQ_EINTR.
#pragma once
#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <cstdint>

#include "errc.hpp"

namespace fq {

class SignalsHeld {
 public:
  SignalsHeld() noexcept {
    sigset_t held;
    sigfillset(&held);
    // Faults are the thread's own and must stay deliverable.
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&held, s);
    pthread_sigmask(SIG_BLOCK, &held, &caller_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &caller_, nullptr); }
  SignalsHeld(const SignalsHeld &) = delete;
  SignalsHeld &operator=(const SignalsHeld &) = delete;

  // True if a signal the caller takes came while held: a call that must
  // not wait can still report it (INTR) instead of swallowing it.
  bool arrived() const noexcept {
    sigset_t pending;
    sigpending(&pending);
    for (int s = 1; s < NSIG; ++s) {
      if (sigismember(&pending, s) == 1 && sigismember(&caller_, s) == 0) return true;
    }
    return false;
  }

  // Sleeps `ms` with the caller's mask: INTR as soon as a signal is
  // delivered, one that came while held included.
  Errc pause_ms(int64_t ms) const noexcept {
    const timespec ts{time_t(ms / 1000), long(ms % 1000) * 1000000};
    if (::ppoll(nullptr, 0, &ts, &caller_) < 0 && errno == EINTR) return Errc::INTR;
    return Errc::ok;
  }

 private:
  sigset_t caller_;
};

}  // namespace fq
