// Medium payloads (too large for a frame, at most one slot): a fixed arena of
// 64 KiB slots in one shared file, claimed and freed by compare-and-swap, so
// neither side makes a system call. Lifecycle in core/README.md ("Slots").
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "errc.hpp"
#include "frame.hpp"

namespace fq {

class SlotArena {
 public:
  static constexpr uint32_t kSlots = 1024;
  static constexpr size_t kSlotSize = 64 * 1024;

  SlotArena() = default;
  SlotArena(const SlotArena &) = delete;
  SlotArena &operator=(const SlotArena &) = delete;
  ~SlotArena();

  static std::string path(uint64_t token);

  // Maps the arena of the queue `token`; `create` (first holder only) makes
  // or resizes it. Without an arena every medium message uses a file.
  Errc open(uint64_t token, bool create, mode_t mode) noexcept;
  bool usable() const noexcept { return words_ != nullptr; }

  // Sender: copies `total` bytes into a free slot and marks it READY. False
  // if every slot is taken, even after reclaiming those of dead processes.
  bool put(uint32_t pid, const iovec *iov, size_t iovcnt, size_t total, SlotRef &out) noexcept;
  // Frees the slot: a sender that could not publish its reference, or a
  // leased receive that keeps its own copy.
  void unput(const SlotRef &ref) noexcept;

  // Receiver, holding the receive lock: READY -> READING. False if the slot
  // no longer holds `ref` (its claimer died); the message is then gone.
  bool claim(const SlotRef &ref, uint32_t pid) noexcept;
  // Receiver, after unlocking: copies the claimed payload out and frees it.
  void take(const SlotRef &ref, void *buf) noexcept;
  // True if the slot holds `ref`, READY for a receiver.
  bool ready(const SlotRef &ref) const noexcept;
  // Copies a payload out (claimed, or READY under the receive lock), keeping the slot.
  void read(const SlotRef &ref, void *buf) const noexcept;

  // First holder: frees every slot but the READY ones staging refers to
  // (pairs of index and generation).
  void reset(const std::set<std::pair<uint32_t, uint32_t>> &keep) noexcept;

 private:
  void reclaim_dead() noexcept;
  std::atomic<uint32_t> &hint() const noexcept;
  void lower_hint(uint32_t i) noexcept;
  uint8_t *slot(uint32_t i) const noexcept;

  std::atomic<uint64_t> *words_ = nullptr;  // the slot table, then the slots
  size_t size_ = 0;
};

}  // namespace fq
