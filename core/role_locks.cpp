#include "role_locks.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fq {

Errc lock_roles(int fd, bool sender, bool receiver) noexcept {
  if (!sender && !receiver) return Errc::ok;
  // Both roles: one lock over both bytes (the kernel would merge two anyway).
  struct flock l = {};
  l.l_type = F_RDLCK;
  l.l_whence = SEEK_SET;
  l.l_start = sender ? kSenderByte : kReceiverByte;
  l.l_len = sender && receiver ? 2 : 1;
  // Read locks on bytes nobody write-locks: this never conflicts or waits.
  if (::fcntl(fd, F_OFD_SETLK, &l) != 0) return Errc::SYS;
  return Errc::ok;
}

Errc count_roles(int fd, Attached &out) noexcept {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errc::SYS;
  FILE *f = std::fopen("/proc/locks", "re");
  if (!f) return Errc::SYS;
  Attached n;
  char line[256];
  // "7: OFDLCK ADVISORY  READ -1 fe:01:1234 1 2": type, dev (hex) and inode,
  // first and last byte ("EOF" for a lock to the end). Blocked requests
  // print "->" where the type is; they hold nothing.
  while (std::fgets(line, sizeof line, f)) {
    char type[16], mode[16], last[24];
    unsigned maj, min;
    unsigned long long ino, first;
    if (std::sscanf(line, "%*d: %15s %*s %15s %*d %x:%x:%llu %llu %23s", type, mode, &maj, &min,
                    &ino, &first, last) != 7) {
      continue;
    }
    if (std::strcmp(type, "OFDLCK") != 0 || std::strcmp(mode, "READ") != 0) continue;
    if (maj != major(st.st_dev) || min != minor(st.st_dev) || ino != st.st_ino) continue;
    const unsigned long long end =
        std::strcmp(last, "EOF") == 0 ? ~0ull : std::strtoull(last, nullptr, 10);
    const auto covers = [&](long byte) { return first <= uint64_t(byte) && uint64_t(byte) <= end; };
    if (covers(kSenderByte)) ++n.senders;
    if (covers(kReceiverByte)) ++n.receivers;
  }
  const bool failed = std::ferror(f);
  const int cause = errno;
  std::fclose(f);
  if (failed) {
    errno = cause;
    return Errc::SYS;
  }
  out = n;
  return Errc::ok;
}

}  // namespace fq
