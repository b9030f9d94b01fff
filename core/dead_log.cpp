#include "dead_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "crc32c.hpp"
#include "le.hpp"

namespace fq {
namespace {

constexpr uint32_t kRecordMagic = 0x6c647166;  // "fqdl" read little-endian
constexpr size_t kHead = 12;
constexpr uint64_t kMaxRecord = uint64_t(1) << 32;

bool read_full(int fd, void *buf, size_t n) noexcept {
  auto *p = static_cast<uint8_t *>(buf);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

}  // namespace

Errc dead_log_append(const std::string &path, mode_t mode, const Envelope &env, const void *payload,
                     size_t len) noexcept {
  const size_t env_len = env.size();
  if (env_len + len >= kMaxRecord) return Errc::MSGSIZE;
  uint8_t head[kHead], env_buf[Envelope::kMaxSize];
  env.encode(env_buf);
  const uint32_t crc = crc32c(crc32c(0, env_buf, env_len), payload, len);
  store32(head, kRecordMagic);
  store32(head + 4, uint32_t(env_len + len));
  store32(head + 8, crc);
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return errc_from_errno(errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errc_from_errno(errno);
  if (!S_ISREG(st.st_mode)) return Errc::NOTFIFO;
  if (Errc e = check_owner(st); e != Errc::ok) return e;
  iovec v[3] = {{head, kHead}, {env_buf, env_len}, {const_cast<void *>(payload), len}};
  // One writev with O_APPEND: records of concurrent writers never interleave
  // on a local file system; a short write leaves a torn tail the reader skips.
  const ssize_t n = ::writev(fd.get(), v, 3);
  if (n < 0) return errc_from_errno(errno);
  if (size_t(n) != kHead + env_len + len) return Errc::NOSPC;
  if (::fdatasync(fd.get()) != 0) return errc_from_errno(errno);
  return Errc::ok;
}

Errc DeadLogReader::open(const std::string &path) noexcept {
  fd_.reset(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  return fd_ ? Errc::ok : errc_from_errno(errno);
}

Errc DeadLogReader::next(Envelope &env, std::vector<uint8_t> &payload) noexcept {
  uint8_t head[kHead];
  if (corrupt_ > 0 || !read_full(fd_.get(), head, kHead)) return Errc::AGAIN;
  const uint32_t len = load32(head + 4);
  try {
    std::vector<uint8_t> rec;
    struct stat st;
    const off_t at = ::lseek(fd_.get(), 0, SEEK_CUR);
    const bool fits = ::fstat(fd_.get(), &st) == 0 && at >= 0 && st.st_size - at >= off_t(len);
    if (load32(head) == kRecordMagic && fits) {
      rec.resize(len);
      if (read_full(fd_.get(), rec.data(), len) && crc32c(0, rec.data(), len) == load32(head + 8)) {
        size_t used = 0;
        if (env.decode(rec.data(), rec.size(), &used)) {
          payload.assign(rec.begin() + long(used), rec.end());
          return Errc::ok;
        }
      }
    }
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
  corrupt_ = 1;  // a torn tail or a damaged record: nothing after it can be trusted
  return Errc::AGAIN;
}

}  // namespace fq
