#include "fifo_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace fq {

Errc errc_from_errno(int e) noexcept {
  switch (e) {
    case ENOENT:
    case ENOTDIR:
      return Errc::NOENT;
    case EACCES:
    case EPERM:
    case EROFS:
      return Errc::ACCES;
    case ELOOP:
      return Errc::SYMLINK;
    case EISDIR:
    case ENXIO:
    case ENODEV:
      return Errc::NOTFIFO;
    case ENOMEM:
      return Errc::NOMEM;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:  // past RLIMIT_FSIZE: as full a disk as the caller will get
      return Errc::NOSPC;
    case EINTR:
      return Errc::INTR;
    case ENAMETOOLONG:
      return Errc::INVAL;
    default:
      return Errc::SYS;
  }
}

Errc check_owner(const struct stat &st) noexcept {
  if (st.st_uid == ::geteuid() || st.st_uid == 0) return Errc::ok;
  return (st.st_mode & 0007) ? Errc::FOREIGN : Errc::ok;
}

Errc open_fifo(const std::string &path, bool create, mode_t mode, Fd &out) noexcept {
  bool created = false;
  if (create) {
    if (::mkfifo(path.c_str(), mode) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      return errc_from_errno(errno);
    }
  }
  // Look before opening: opening a device node, even non-blocking, can have
  // side effects. fstat after opening closes the race with a swap.
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errc_from_errno(errno);
  if (S_ISLNK(st.st_mode)) return Errc::SYMLINK;
  if (!S_ISFIFO(st.st_mode)) return Errc::NOTFIFO;
  Fd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errc_from_errno(errno);
  if (::fstat(fd.get(), &st) != 0) return errc_from_errno(errno);
  if (!S_ISFIFO(st.st_mode)) return Errc::NOTFIFO;
  if (Errc e = check_owner(st); e != Errc::ok) return e;
  // mkfifo applied the umask; a caller asking for 0660 means it.
  if (created && (st.st_mode & 07777) != mode && ::fchmod(fd.get(), mode) != 0) {
    return errc_from_errno(errno);
  }
  out = std::move(fd);
  return Errc::ok;
}

Errc open_regular(const std::string &path, mode_t mode, Fd &out) noexcept {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return errc_from_errno(errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errc_from_errno(errno);
  if (!S_ISREG(st.st_mode)) return Errc::NOTFIFO;
  if (Errc e = check_owner(st); e != Errc::ok) return e;
  out = std::move(fd);
  return Errc::ok;
}

Errc wait_fds(pollfd *fds, nfds_t n, const Deadline &d) noexcept {
  if (d.expired() && !d.forever()) return expired(d);
  timespec left = d.remaining();
  const int r = ::ppoll(fds, n, d.forever() ? nullptr : &left, nullptr);
  if (r > 0) return Errc::ok;
  if (r == 0) return expired(d);
  return errno == EINTR ? Errc::INTR : Errc::SYS;
}

}  // namespace fq
