#include "shm_payload.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace fq {
namespace {

constexpr const char *kDir = "/dev/shm/";

// writev until all `total` bytes are written, stepping through the iovecs.
bool write_all(int fd, const iovec *iov, size_t iovcnt, uint64_t total) {
  std::vector<iovec> v(iov, iov + iovcnt);
  size_t i = 0;
  while (total > 0) {
    while (i < v.size() && v[i].iov_len == 0) ++i;
    const int cnt = int(std::min<size_t>(v.size() - i, IOV_MAX));
    const ssize_t n = ::writev(fd, v.data() + i, cnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    total -= uint64_t(n);
    for (size_t left = size_t(n); left > 0; ++i) {
      const size_t step = std::min(left, v[i].iov_len);
      v[i].iov_base = static_cast<char *>(v[i].iov_base) + step;
      v[i].iov_len -= step;
      left -= step;
      if (v[i].iov_len > 0) break;
    }
  }
  return true;
}

}  // namespace

ShmPayloads::ShmPayloads(uint64_t token, mode_t mode) : mode_(mode) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "fq-%016" PRIx64 "-", token);
  prefix_ = buf;
}

std::string ShmPayloads::name(uint32_t pid, uint64_t seq) const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%" PRIu32 "-%016" PRIx64, pid, seq);
  return kDir + prefix_ + buf;
}

Errc ShmPayloads::write(uint32_t pid, uint64_t &seq, const iovec *iov, size_t iovcnt,
                        uint64_t total) const noexcept {
  try {
    std::string path;
    Fd fd = total >= kPoolFrom ? reuse(pid, seq, path) : Fd();
    if (fd && ::ftruncate(fd.get(), off_t(total)) != 0) {  // frees or adds pages at the end
      ::unlink(path.c_str());
      fd.reset();
    }
    for (int tries = 0; !fd; ++tries, ++seq) {
      path = name(pid, seq);
      fd.reset(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode_));
      if (!fd && (errno != EEXIST || tries > 64)) return errc_from_errno(errno);
      if (fd) break;
    }
    if (!write_all(fd.get(), iov, iovcnt, total)) {
      const int e = errno;
      ::unlink(path.c_str());
      return errc_from_errno(e);
    }
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc ShmPayloads::claim(const ShmRef &ref, uint32_t pid, uint64_t &seq,
                        ClaimedPayload &out) const noexcept {
  try {
    const std::string from = name(ref.pid, ref.seq);
    out = ClaimedPayload();
    if (ref.len < kPoolFrom) {
      Fd fd(::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return errc_from_errno(errno);
      ::unlink(from.c_str());
      struct stat st;
      if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) != ref.len) {
        return Errc::NOENT;
      }
      out.fd_ = std::move(fd);
      return Errc::ok;
    }
    std::string path;
    for (int tries = 0;; ++tries, ++seq) {
      path = name(pid, seq);
      if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) break;
      if (errno != EEXIST || tries > 64) return errc_from_errno(errno);
    }
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        uint64_t(st.st_size) != ref.len) {
      ::unlink(path.c_str());
      return Errc::NOENT;
    }
    out.home_ = *this;
    out.named_ = true;
    out.fd_ = std::move(fd);
    out.pid_ = pid;
    out.seq_ = seq++;
    out.len_ = ref.len;
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc ShmPayloads::open(uint32_t pid, uint64_t seq, Fd &out) const noexcept {
  try {
    out.reset(::open(name(pid, seq).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    return out ? Errc::ok : errc_from_errno(errno);
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc ShmPayloads::link(const ShmRef &from, uint32_t pid, uint64_t seq) const noexcept {
  try {
    const std::string src = name(from.pid, from.seq), dst = name(pid, seq);
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) return errc_from_errno(errno);
    if (!S_ISREG(st.st_mode) || uint64_t(st.st_size) != from.len) return Errc::NOENT;
    ::unlink(dst.c_str());  // a leftover of an owner that died before recording it
    if (::link(src.c_str(), dst.c_str()) != 0) return errc_from_errno(errno);
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc ShmPayloads::copy(const Fd &fd, uint64_t len, void *buf) noexcept {
  auto *p = static_cast<char *>(buf);
  for (uint64_t off = 0; off < len;) {
    const ssize_t n = ::pread(fd.get(), p + off, len - off, off_t(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errc_from_errno(errno);
    if (n == 0) return Errc::NOENT;  // truncated under us
    off += uint64_t(n);
  }
  return Errc::ok;
}

void ShmPayloads::remove(uint32_t pid, uint64_t seq) const noexcept {
  try {
    ::unlink(name(pid, seq).c_str());
  } catch (const std::bad_alloc &) {
    // The name could not be built; the file is left for the next sweep.
  }
}

std::string ShmPayloads::pool_name(int i) const {
  return kDir + prefix_ + "pool-" + std::to_string(i);
}

Fd ShmPayloads::reuse(uint32_t pid, uint64_t &seq, std::string &path) const noexcept {
  try {
    for (int i = 0; i < kPool; ++i) {
      const std::string from = pool_name(i);
      for (int tries = 0;; ++tries, ++seq) {
        path = name(pid, seq);
        if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) {
          Fd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
          struct stat st;
          if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
              check_owner(st) == Errc::ok) {
            return fd;
          }
          ::unlink(path.c_str());  // not what the pool holds: never written to
          break;
        }
        if (errno != EEXIST || tries > 64) break;  // ENOENT: this pool place is empty
      }
    }
  } catch (const std::bad_alloc &) {
  }
  return Fd();
}

void ShmPayloads::recycle(uint32_t pid, uint64_t seq, uint64_t len) const noexcept {
  try {
    const std::string path = name(pid, seq);
    if (len <= kPoolMax) {
      for (int i = 0; i < kPool; ++i) {
        const std::string to = pool_name(i);
        if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
          return;
      }
    }
    ::unlink(path.c_str());
  } catch (const std::bad_alloc &) {
    // The name could not be built; the file is left for the next sweep.
  }
}

size_t ShmPayloads::sweep(const std::set<std::pair<uint32_t, uint64_t>> &keep) const noexcept {
  DIR *dir = ::opendir(kDir);
  if (!dir) return 0;
  size_t removed = 0;
  while (dirent *e = ::readdir(dir)) {
    if (std::strncmp(e->d_name, prefix_.c_str(), prefix_.size()) != 0) continue;
    const char *rest = e->d_name + prefix_.size();
    uint32_t pid;
    uint64_t seq;
    const bool pooled = std::strncmp(rest, "pool-", 5) == 0;
    if (!pooled && std::sscanf(rest, "%" SCNu32 "-%" SCNx64, &pid, &seq) != 2) continue;
    if (!pooled && keep.count({pid, seq})) continue;
    if (::unlinkat(::dirfd(dir), e->d_name, 0) == 0) ++removed;
  }
  ::closedir(dir);
  return removed;
}

}  // namespace fq
