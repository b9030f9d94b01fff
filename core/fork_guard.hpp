// Tells, with one memory load, whether this process is a fork child of the one
// that armed the guard: the guard's page is MADV_WIPEONFORK, so a child sees
// it zeroed. (getpid() would cost a system call on every send.)
#pragma once
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <thread>

namespace fq {

class ForkGuard {
 public:
  enum State : uint32_t { kForked = 0, kArmed = 1, kBusy = 2 };

  ForkGuard() {
    void *p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    if (::madvise(p, 4096, MADV_WIPEONFORK) != 0) {
      ::munmap(p, 4096);
      throw std::bad_alloc();
    }
    word_ = new (p) std::atomic<uint32_t>(kArmed);
  }
  ForkGuard(const ForkGuard &) = delete;
  ForkGuard &operator=(const ForkGuard &) = delete;
  ~ForkGuard() { ::munmap(word_, 4096); }

  bool armed() const noexcept { return word_->load(std::memory_order_acquire) == kArmed; }

  // In a fork child: returns true to the one thread that must reconnect (it
  // then calls done()); other threads wait until it has.
  bool claim() noexcept {
    for (;;) {
      uint32_t s = kForked;
      if (word_->compare_exchange_strong(s, kBusy)) return true;
      if (s == kArmed) return false;
      std::this_thread::yield();
    }
  }
  void done(bool ok) noexcept { word_->store(ok ? kArmed : kForked, std::memory_order_release); }

 private:
  std::atomic<uint32_t> *word_;
};

}  // namespace fq
