// A deadline on CLOCK_MONOTONIC made from the C API's `timeout_ms`
// (-1 forever, 0 poll, >0 milliseconds), so a retried wait never restarts the
// full timeout and a change of the wall clock never stretches it.
#pragma once
#include <time.h>

#include <cstdint>

namespace fq {

class Deadline {
 public:
  static Deadline after_ms(int timeout_ms) noexcept {
    Deadline d;
    if (timeout_ms < 0) {
      d.forever_ = true;
    } else {
      d.poll_ = timeout_ms == 0;
      d.at_ns_ = now_ns() + static_cast<int64_t>(timeout_ms) * 1000000;
    }
    return d;
  }

  // This deadline, or `at_ns` (monotonic) if that comes first: for waits
  // that must also wake for something due at a known time.
  Deadline capped(int64_t at_ns) const noexcept {
    Deadline c = *this;
    if (forever_ || at_ns < at_ns_) {
      c.forever_ = false;
      c.at_ns_ = at_ns;
    }
    return c;
  }

  bool forever() const noexcept { return forever_; }
  // True for timeout 0: the caller asked not to wait at all (FQ_EAGAIN).
  bool is_poll() const noexcept { return poll_; }
  bool expired() const noexcept { return !forever_ && now_ns() >= at_ns_; }

  // Time left, for ppoll; zero once expired. Meaningless when forever().
  timespec remaining() const noexcept {
    int64_t left = at_ns_ - now_ns();
    if (left < 0) left = 0;
    return timespec{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
  }

  // The absolute instant, for FUTEX_WAIT_BITSET on CLOCK_MONOTONIC.
  timespec absolute() const noexcept {
    return timespec{static_cast<time_t>(at_ns_ / 1000000000),
                    static_cast<long>(at_ns_ % 1000000000)};
  }

  static int64_t now_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }

 private:
  bool forever_ = false;
  bool poll_ = false;
  int64_t at_ns_ = 0;
};

}  // namespace fq
