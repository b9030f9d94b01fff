// The held table: messages leased to a receiver, and messages waiting for a
// retry, kept in the state file so that no single process's death loses them.
// States and the order of every change: core/README.md ("Envelopes, leases
// and dead letters").
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <set>
#include <utility>

#include "envelope.hpp"
#include "errc.hpp"
#include "shared_state.hpp"
#include "shm_payload.hpp"

namespace fq {

// One hand-out of one entry: a settlement with an old generation is refused.
struct HeldRef {
  uint32_t index = 0;
  uint32_t gen = 0;
  // As Received::lease carries it.
  uint64_t pack() const noexcept { return uint64_t(index) << 32 | gen; }
  static HeldRef unpack(uint64_t v) noexcept { return HeldRef{uint32_t(v >> 32), uint32_t(v)}; }
};

class HeldTable {
 public:
  // A payload too large for its blob lives in a payload file with pid 0.
  static constexpr uint32_t kFilePid = 0;
  // Named by index and the generation it was written under (file_gen).
  static uint64_t file_seq(uint32_t index, uint32_t file_gen) {
    return uint64_t(index) << 32 | file_gen;
  }
  // How often waiting receivers look for lease holders that died.
  static constexpr int64_t kDeadCheckNs = 100'000'000;

  // `pid` is the owner's, read at each call: it changes in a fork child.
  HeldTable(const StateMap &map, const ShmPayloads &payloads, const uint32_t &pid) noexcept
      : map_(map), payloads_(payloads), pid_(pid) {}

  // Takes a FREE entry as BUSY for us; NOSPC when the table is full.
  Errc reserve(HeldRef &out) noexcept;
  // Fills a BUSY entry of ours with the envelope and the payload.
  Errc fill(const HeldRef &r, const Envelope &env, const iovec *iov, size_t iovcnt,
            uint64_t len) noexcept;
  // Fills a BUSY entry of ours, linking a payload file to its held name
  // (the caller removes the old name once the entry is published).
  Errc fill_from_file(const HeldRef &r, const Envelope &env, const ShmRef &from) noexcept;
  // BUSY -> LEASED (ours, until due) or WAITING (until due).
  void publish(const HeldRef &r, HeldState to, int64_t due_ns) noexcept;
  // Frees an entry we hold (BUSY, or LEASED by this hand-out). False if the
  // lease was lost: it expired and was handed out again.
  bool release(const HeldRef &r) noexcept;
  // LEASED by this hand-out -> WAITING until due, with a new envelope.
  Errc requeue(const HeldRef &r, const Envelope &env, int64_t due_ns) noexcept;

  // Takes the first due entry: WAITING past its time, LEASED past its lease
  // or by a holder that died. As LEASED for us for `lease_ms` if that is
  // >= 0, else BUSY (the caller reads it, then releases it). Raises the
  // attempt count. AGAIN when nothing is due: one load when nothing is held.
  // An entry whose payload is larger than `max_len` is not taken: TOOSMALL,
  // with its size in payload_len. With `peek` nothing is taken: ok and the
  // size of the first due entry.
  Errc take_due(int lease_ms, uint64_t max_len, bool peek, HeldRef &out,
                uint64_t &payload_len) noexcept;

  // The queue's retry policy lives beside the table it governs.
  Policy policy() noexcept;
  void set_policy(const Policy &p) noexcept;
  // Copies out an entry we took: its envelope, then its payload into buf.
  Errc read(const HeldRef &r, Envelope &env, void *buf) noexcept;

  // When a waiting receiver should look again: the earliest due time, and
  // no later than the next look for dead holders while leases are out.
  int64_t wake_at() const noexcept;
  // Entries LEASED or WAITING now.
  uint64_t count() const noexcept;

  // Adds the payload files of held messages to `keep` (the last holder's sweep).
  void keep_files(std::set<std::pair<uint32_t, uint64_t>> &keep) const noexcept;
  // First holder only: frees BUSY entries (their writer is gone), makes
  // everything due at once after a reboot, and lists the payload files the
  // table still uses.
  void repair(bool rebooted, std::set<std::pair<uint32_t, uint64_t>> &keep_files) noexcept;

 private:
  class Lock;
  HeldEntry &at(uint32_t i) const noexcept { return map_.held()[i]; }
  bool ours(const HeldRef &r, uint32_t state) const noexcept;
  void free_locked(uint32_t i) noexcept;
  void recount_locked() noexcept;
  Errc spill_locked(uint32_t i) noexcept;
  Errc write_file(uint32_t i, uint32_t gen, const iovec *iov, size_t iovcnt, uint64_t len) noexcept;

  const StateMap &map_;
  const ShmPayloads &payloads_;
  const uint32_t &pid_;
};

}  // namespace fq
