#include "mapping.hpp"

#include <sys/mman.h>

#include <cerrno>

#include "fifo_io.hpp"

namespace fq {

Errc Mapping::map(int fd, size_t len) noexcept {
  if (len == 0) return Errc::INVAL;
  // Populated read-only first: a writable private mapping populated up front
  // would copy every page. Writing is allowed afterwards, page by page.
  void *p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) return errc_from_errno(errno);
  if (::mprotect(p, len, PROT_READ | PROT_WRITE) != 0) {
    const int e = errno;
    ::munmap(p, len);
    return errc_from_errno(e);
  }
  reset();
  p_ = static_cast<uint8_t *>(p);
  len_ = len;
  return Errc::ok;
}

Errc Mapping::map(ClaimedPayload &&file, size_t len) noexcept {
  const Errc e = map(file.fd().get(), len);
  if (e == Errc::ok) file_ = std::move(file);
  return e;
}

void Mapping::reset() noexcept {
  if (p_) ::munmap(p_, len_);
  p_ = nullptr;
  len_ = 0;
  file_.release();  // after the unmap: the next sender overwrites its pages
}

}  // namespace fq
