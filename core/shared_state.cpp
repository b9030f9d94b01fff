#include "shared_state.hpp"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "fifo_io.hpp"
#include "frame.hpp"

namespace fq {
namespace {

constexpr size_t kHeldSize = kHeldEntries * (sizeof(HeldEntry) + kHeldBlob);

uint64_t system_pipe_max() noexcept {
  uint64_t v = 1 << 20;
  if (FILE *f = std::fopen("/proc/sys/fs/pipe-max-size", "re")) {
    unsigned long long r;
    if (std::fscanf(f, "%llu", &r) == 1 && r >= 4096) v = r;
    std::fclose(f);
  }
  return v;
}

}  // namespace

StateMap::~StateMap() {
  if (hdr_) ::munmap(hdr_, size_);
}

Errc StateMap::init_mutex(pthread_mutex_t *m) noexcept {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  const int r = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  if (r != 0) {
    errno = r;
    return Errc::SYS;
  }
  return Errc::ok;
}

Errc StateMap::map(int fd, size_t size) noexcept {
  void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return errc_from_errno(errno);
  if (hdr_) ::munmap(hdr_, size_);
  hdr_ = static_cast<StateHeader *>(p);
  size_ = size;
  return Errc::ok;
}

Errc StateMap::create(int fd, const Limits &want) noexcept {
  Limits l = want;
  if (l.pipe_size == 0) l.pipe_size = system_pipe_max();
  if (l.pipe_size < 4096) l.pipe_size = 4096;
  if (l.room_bytes < l.max_msg) l.room_bytes = l.max_msg;
  if (l.room_bytes > Room::kBytesMask) l.room_bytes = Room::kBytesMask;
  if (l.room_msgs > Room::kMaxMsgs) l.room_msgs = Room::kMaxMsgs;
  if (l.room_msgs == 0) l.room_msgs = 1;
  // Staging holds what a read can bring (a pipe full) on top of a partial
  // token, and at the last close all of the pipe on top of what is staged.
  // Whole pages, so the held table after it stays aligned.
  const uint64_t staging = (2 * l.pipe_size + 64 * 1024 + 4095) & ~uint64_t(4095);
  const size_t size = kStagingOffset + staging + kHeldSize;
  if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, off_t(size)) != 0) return errc_from_errno(errno);
  if (Errc e = map(fd, size); e != Errc::ok) return e;

  uint64_t token = 0;
  if (::getrandom(&token, sizeof token, 0) != sizeof token) return errc_from_errno(errno);
  StateHeader *h = new (hdr_) StateHeader();  // a fresh file is all zeros: value-init keeps it so
  h->version = kStateVersion;
  h->header_size = sizeof(StateHeader);
  h->token = token;
  h->limits = l;
  h->staging_cap = staging;
  h->held_due.store(INT64_MAX);
  if (Errc e = init_mutex(&h->rx_mutex); e != Errc::ok) return e;
  if (Errc e = init_mutex(&h->held_mutex); e != Errc::ok) return e;
  h->magic.store(kStateMagic, std::memory_order_release);
  return Errc::ok;
}

Errc StateMap::attach(int fd) noexcept {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errc_from_errno(errno);
  if (size_t(st.st_size) < kStagingOffset) return Errc::INVAL;
  if (Errc e = map(fd, size_t(st.st_size)); e != Errc::ok) return e;
  const StateHeader *h = hdr_;
  if (h->magic.load(std::memory_order_acquire) != kStateMagic || h->version != kStateVersion ||
      h->header_size != sizeof(StateHeader) ||
      kStagingOffset + h->staging_cap + kHeldSize != size_) {
    return Errc::INVAL;
  }
  return Errc::ok;
}

}  // namespace fq
