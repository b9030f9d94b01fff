#include "fork_generation.hpp"

#include <pthread.h>

#include <atomic>

namespace fq {
namespace {

// Process-wide by nature: fork is. glibc drops the handler if libfq is unloaded.
std::atomic<uint64_t> forks{0};

void count_fork() noexcept { forks.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

uint64_t fork_generation() noexcept {
  static const bool counting = ::pthread_atfork(nullptr, count_fork, count_fork) == 0;
  // Without the handler (ENOMEM) every call looks like a new generation: nothing is pooled.
  return counting ? forks.load(std::memory_order_relaxed) : forks.fetch_add(1) + 1;
}

}  // namespace fq
