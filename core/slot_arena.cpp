#include "slot_arena.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "fifo_io.hpp"

namespace fq {
namespace {

// A slot word: phase in bits 0-1, pid in bits 2-31, generation in bits 32-63.
enum Phase : uint64_t { kFree = 0, kWriting = 1, kReady = 2, kReading = 3 };
// The slot words, then on a cache line of its own the lowest index that may
// be free (a hint: scans start there; frees lower it).
constexpr size_t kHintOffset = SlotArena::kSlots * sizeof(uint64_t);
constexpr size_t kTableSize = (kHintOffset + 64 + 4095) / 4096 * 4096;

uint64_t make_word(uint64_t phase, uint32_t pid, uint32_t gen) {
  return uint64_t(gen) << 32 | uint64_t(pid & 0x3FFFFFFFu) << 2 | phase;
}
uint64_t phase_of(uint64_t w) { return w & 3; }
uint32_t pid_of(uint64_t w) { return uint32_t(w >> 2) & 0x3FFFFFFFu; }
uint32_t gen_of(uint64_t w) { return uint32_t(w >> 32); }

}  // namespace

SlotArena::~SlotArena() {
  if (words_) ::munmap(words_, size_);
}

std::string SlotArena::path(uint64_t token) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/dev/shm/fq-%016" PRIx64 "-slots", token);
  return buf;
}

Errc SlotArena::open(uint64_t token, bool create, mode_t mode) noexcept {
  const size_t size = kTableSize + size_t(kSlots) * kSlotSize;
  try {
    const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0);
    Fd fd(::open(path(token).c_str(), flags, mode));
    if (!fd) return errc_from_errno(errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Errc::NOTFIFO;
    if (size_t(st.st_size) != size) {
      if (!create || ::ftruncate(fd.get(), off_t(size)) != 0) return Errc::INVAL;
    }
    void *p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return errc_from_errno(errno);
    if (words_) ::munmap(words_, size_);
    words_ = static_cast<std::atomic<uint64_t> *>(p);
    size_ = size;
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

std::atomic<uint32_t> &SlotArena::hint() const noexcept {
  return *reinterpret_cast<std::atomic<uint32_t> *>(reinterpret_cast<uint8_t *>(words_) +
                                                    kHintOffset);
}

void SlotArena::lower_hint(uint32_t i) noexcept {
  uint32_t h = hint().load(std::memory_order_relaxed);
  while (i < h && !hint().compare_exchange_weak(h, i)) {
  }
}

uint8_t *SlotArena::slot(uint32_t i) const noexcept {
  return reinterpret_cast<uint8_t *>(words_) + kTableSize + size_t(i) * kSlotSize;
}

bool SlotArena::put(uint32_t pid, const iovec *iov, size_t iovcnt, size_t total,
                    SlotRef &out) noexcept {
  if (!words_ || total > kSlotSize) return false;
  // Lowest free slot first, so the pages a queue touches stay few (tmpfs
  // backs only pages written), starting at the hint so a deep backlog does
  // not mean a long scan.
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t i = pass == 0 ? hint().load() : 0; i < kSlots; ++i) {
      uint64_t w = words_[i].load(std::memory_order_relaxed);
      if (phase_of(w) != kFree) continue;
      const uint32_t gen = gen_of(w) + 1;
      if (!words_[i].compare_exchange_strong(w, make_word(kWriting, pid, gen),
                                             std::memory_order_acquire)) {
        continue;
      }
      uint8_t *dst = slot(i);
      for (size_t k = 0; k < iovcnt; ++k) {
        if (iov[k].iov_len == 0) continue;
        std::memcpy(dst, iov[k].iov_base, iov[k].iov_len);
        dst += iov[k].iov_len;
      }
      words_[i].store(make_word(kReady, pid, gen), std::memory_order_release);
      uint32_t expect = i;  // the hint pointed here: move it on
      hint().compare_exchange_strong(expect, i + 1);
      out = SlotRef{uint32_t(total), i, gen};
      return true;
    }
    if (pass == 0) reclaim_dead();
  }
  return false;
}

void SlotArena::unput(const SlotRef &ref) noexcept {
  words_[ref.index].store(make_word(kFree, 0, ref.gen), std::memory_order_release);
  lower_hint(ref.index);
}

bool SlotArena::claim(const SlotRef &ref, uint32_t pid) noexcept {
  if (!words_ || ref.index >= kSlots || ref.len > kSlotSize) return false;
  uint64_t w = words_[ref.index].load(std::memory_order_relaxed);
  if (phase_of(w) != kReady || gen_of(w) != ref.gen) return false;
  return words_[ref.index].compare_exchange_strong(w, make_word(kReading, pid, ref.gen),
                                                   std::memory_order_acquire);
}

void SlotArena::take(const SlotRef &ref, void *buf) noexcept {
  read(ref, buf);
  unput(ref);
}

void SlotArena::read(const SlotRef &ref, void *buf) const noexcept {
  if (ref.len > 0) std::memcpy(buf, slot(ref.index), ref.len);
}

bool SlotArena::ready(const SlotRef &ref) const noexcept {
  if (!words_ || ref.index >= kSlots || ref.len > kSlotSize) return false;
  const uint64_t w = words_[ref.index].load(std::memory_order_acquire);
  return phase_of(w) == kReady && gen_of(w) == ref.gen;
}

// Slots held by a process that no longer exists (killed mid-copy) go back.
void SlotArena::reclaim_dead() noexcept {
  for (uint32_t i = 0; i < kSlots; ++i) {
    uint64_t w = words_[i].load(std::memory_order_relaxed);
    const uint64_t phase = phase_of(w);
    if (phase != kWriting && phase != kReading) continue;
    if (::kill(pid_t(pid_of(w)), 0) == 0 || errno != ESRCH) continue;
    if (words_[i].compare_exchange_strong(w, make_word(kFree, 0, gen_of(w)))) lower_hint(i);
  }
}

void SlotArena::reset(const std::set<std::pair<uint32_t, uint32_t>> &keep) noexcept {
  if (!words_) return;
  for (uint32_t i = 0; i < kSlots; ++i) {
    const uint64_t w = words_[i].load();
    if (phase_of(w) == kReady && keep.count({i, gen_of(w)})) continue;
    words_[i].store(make_word(kFree, 0, gen_of(w)));
  }
  hint().store(0);
}

}  // namespace fq
