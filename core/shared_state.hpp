// The state file every handle of a queue maps MAP_SHARED: a header of locks,
// cursors and counters, then the receivers' staging buffer.
#pragma once
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "errc.hpp"

namespace fq {

constexpr uint64_t kStateMagic = 0x3174617473716631ull;  // "1fqstat1" when read little-endian
constexpr uint32_t kStateVersion = 2;
constexpr size_t kStagingOffset = 8192;  // header page(s), then staging

// Room and sizes of one queue, fixed when its state file is created.
struct Limits {
  uint64_t max_msg = 64ull << 20;
  uint64_t room_bytes = 256ull << 20;
  uint64_t room_msgs = 65536;
  uint64_t pipe_size = 0;  // 0: /proc/sys/fs/pipe-max-size
};

// Messages and bytes queued by fq senders, packed in one word so a
// reservation is one compare-and-swap.
struct Room {
  static constexpr int kBytesBits = 40;  // up to 1 TiB
  static constexpr uint64_t kBytesMask = (1ull << kBytesBits) - 1;
  static constexpr uint64_t kMaxMsgs = (1ull << (64 - kBytesBits)) - 1;
  static uint64_t msgs(uint64_t w) { return w >> kBytesBits; }
  static uint64_t bytes(uint64_t w) { return w & kBytesMask; }
  static uint64_t pack(uint64_t msgs, uint64_t bytes) { return msgs << kBytesBits | bytes; }
};

// The queue-wide retry policy; zero fields mean the defaults (README).
struct Policy {
  uint32_t max_attempts;
  uint32_t lease_ms;
  uint32_t backoff_base_ms;
  uint32_t backoff_cap_ms;
  double backoff_factor;
  uint32_t jitter_pct;
  uint32_t pad;
};

// The held table: messages leased to a receiver or waiting for a retry.
constexpr uint32_t kHeldEntries = 4096;
constexpr size_t kHeldBlob = 4096;  // envelope + payload kept in the table; more goes to a file
enum HeldState : uint32_t { kHeldFree = 0, kHeldLeased = 1, kHeldWaiting = 2, kHeldBusy = 3 };

// One held message, 64 bytes. `state` is stored last, so a writer killed
// half-way leaves an entry that is FREE or BUSY, never half-described.
struct HeldEntry {
  std::atomic<uint32_t> state;
  uint32_t gen;          // new for every hand-out: stale settlements are refused
  uint32_t owner;        // LEASED, BUSY: the pid that holds it
  uint32_t env_len;      // the blob starts with the envelope
  uint64_t due_ns;       // monotonic: lease expiry (LEASED) or not-before (WAITING)
  uint64_t payload_len;  // after the envelope in the blob, or in its file
  uint32_t in_file;      // payload in the held payload file, see held_table.hpp
  uint32_t file_gen;     // the generation that file was written under: names it
  uint8_t reserved[24];
};
static_assert(sizeof(HeldEntry) == 64, "held entries are one cache line");

struct StateHeader {
  std::atomic<uint64_t> magic;  // kStateMagic, stored last by the initialiser
  uint32_t version;
  uint32_t header_size;
  uint64_t token;  // random; names this queue's payload files
  Limits limits;
  uint64_t staging_cap;
  std::atomic<uint32_t> removed;  // set by fq_unlink

  // Receivers: staging and its recovery marks, guarded by rx_mutex. Fields
  // written per message by senders and by receivers sit on separate cache
  // lines, so the two sides do not steal each other's lines.
  alignas(64) pthread_mutex_t rx_mutex;  // robust, process-shared
  std::atomic<uint64_t> cursor;          // head | tail << 32: one store moves both
  std::atomic<uint64_t> pending_read;    // tail + 1 while a read() is in flight
  std::atomic<uint64_t> pending_len;     // what that read will return, if known (leased receives)
  std::atomic<uint32_t> moving;          // set while staging is being compacted
  uint32_t resync;                       // see frame.hpp: next_token
  std::atomic<uint32_t> rx_waiters;      // receivers asleep in ppoll
  uint32_t drained;                      // the last read emptied the pipe: poll before reading
  std::atomic<uint64_t> received;

  // Senders' room: both sides write it, so it has a line of its own.
  alignas(64) std::atomic<uint64_t> queued;  // Room-packed
  std::atomic<uint32_t> room_seq;            // futex: bumped when room is freed
  std::atomic<uint32_t> room_waiters;

  // Counters, for fq_stats.
  alignas(64) std::atomic<uint64_t> sent;
  alignas(64) std::atomic<uint64_t> garbage_bytes;
  std::atomic<uint64_t> dropped;
  std::atomic<uint64_t> lost_reads;

  // Held table bookkeeping, guarded by held_mutex; the loads that let
  // receivers skip the table are atomics.
  alignas(64) pthread_mutex_t held_mutex;  // robust, process-shared
  std::atomic<int64_t> held_due;           // earliest due_ns; INT64_MAX when nothing is held
  std::atomic<uint32_t> held_leased;       // LEASED entries: waiters look for dead holders
  uint32_t held_high;                      // entries at and past this index are FREE
  int64_t held_checked_ns;                 // the last look for dead lease holders
  char boot_id[40];                        // of the boot the due times belong to
  Policy policy;
  std::atomic<uint64_t> retried;
  std::atomic<uint64_t> dead_lettered;
  std::atomic<uint64_t> redelivered;  // leases that expired or whose holder died

  // Joinable queue (core/README.md, "Queue state"): every send and every
  // task_done writes here, so it stays off the receivers' line. Attached
  // senders and receivers are not counted here but by the kernel's locks.
  alignas(64) std::atomic<uint64_t> unfinished;  // counted messages sent, not yet task_done
  std::atomic<uint32_t> join_seq;                // futex: bumped when unfinished reaches 0
  std::atomic<uint32_t> join_waiters;

  uint8_t reserved[1536];  // kept zero for later layers
};

static_assert(sizeof(StateHeader) <= kStagingOffset, "header must fit before staging");
// State files store header_size and attach only with the same value: new
// fields take their room from `reserved`, whose zeros are their initial values.
static_assert(sizeof(StateHeader) == 2240, "the header grew: shrink reserved");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics must be lock-free");

inline uint32_t cursor_head(uint64_t c) { return uint32_t(c); }
inline uint32_t cursor_tail(uint64_t c) { return uint32_t(c >> 32); }
inline uint64_t make_cursor(uint64_t head, uint64_t tail) { return head | tail << 32; }

// A mapping of a state file.
class StateMap {
 public:
  StateMap() = default;
  StateMap(const StateMap &) = delete;
  StateMap &operator=(const StateMap &) = delete;
  ~StateMap();

  // Sizes and initialises an empty or unfinished state file; the caller holds
  // the file's exclusive lock.
  Errc create(int fd, const Limits &want) noexcept;
  // Maps an initialised state file; INVAL if it is not one (or not finished).
  Errc attach(int fd) noexcept;

  StateHeader *hdr() const noexcept { return hdr_; }
  uint8_t *staging() const noexcept { return reinterpret_cast<uint8_t *>(hdr_) + kStagingOffset; }
  // The held table follows staging: entries, then one blob per entry.
  HeldEntry *held() const noexcept {
    return reinterpret_cast<HeldEntry *>(staging() + hdr_->staging_cap);
  }
  uint8_t *held_blob(uint32_t i) const noexcept {
    return reinterpret_cast<uint8_t *>(held() + kHeldEntries) + size_t(i) * kHeldBlob;
  }

  // Makes the receive mutex usable again: only when no other process holds
  // the state (first holder) or after its owner died.
  static Errc init_mutex(pthread_mutex_t *m) noexcept;

 private:
  Errc map(int fd, size_t size) noexcept;
  StateHeader *hdr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace fq
