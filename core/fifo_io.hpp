// Opening a queue's files safely, and waiting on descriptors against a deadline.
#pragma once
#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "deadline.hpp"
#include "errc.hpp"

namespace fq {

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd &operator=(Fd &&o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The Errc for an errno from a file operation; errno itself is left as is,
// so a SYS result still tells the caller the cause.
Errc errc_from_errno(int e) noexcept;

// A file fq opens must be the caller's or root's, or kept from everyone but
// its owner's group: one another user planted for us (a FIFO in /tmp that
// all may use, a swapped state file) is refused with FOREIGN.
Errc check_owner(const struct stat &st) noexcept;

// Opens (creating it with `mode` if `create` and missing) the FIFO at `path`
// for reading and writing without blocking. Refuses symlinks, regular files,
// directories and anything else that is not a FIFO.
Errc open_fifo(const std::string &path, bool create, mode_t mode, Fd &out) noexcept;

// Opens or creates the regular file at `path` read-write, refusing symlinks.
Errc open_regular(const std::string &path, mode_t mode, Fd &out) noexcept;

// Waits until one of `fds` is ready, the deadline passes (TIMEDOUT, or AGAIN
// when the caller asked not to wait) or a signal arrives (INTR).
Errc wait_fds(pollfd *fds, nfds_t n, const Deadline &d) noexcept;

// The result of a wait that found nothing: AGAIN for a poll, else TIMEDOUT.
inline Errc expired(const Deadline &d) noexcept {
  return d.is_poll() ? Errc::AGAIN : Errc::TIMEDOUT;
}

}  // namespace fq
