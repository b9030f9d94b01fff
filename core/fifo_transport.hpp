// The FIFO transport: the queue engine described in core/README.md.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "fifo_io.hpp"
#include "fork_guard.hpp"
#include "held_table.hpp"
#include "shared_state.hpp"
#include "shm_payload.hpp"
#include "slot_arena.hpp"
#include "transport.hpp"

namespace fq {

class FifoTransport final : public Transport {
 public:
  static Errc open(const std::string &path, int flags, const OpenOptions &opts,
                   std::unique_ptr<Transport> &out) noexcept;
  // Removes the queue at `path` and wakes everyone waiting on it (they get CLOSED).
  static Errc unlink(const std::string &path) noexcept;

  ~FifoTransport() override;

  Errc send(const iovec *iov, size_t iovcnt, const Deadline &d) noexcept override;
  Errc recv(void *buf, size_t cap, size_t *len, bool peek, const Deadline &d) noexcept override;
  Errc stats(Stats &out) noexcept override;
  Errc send_many(const iovec *msgs, size_t count, size_t &sent,
                 const Deadline &d) noexcept override;
  Errc recv_many(void *buf, size_t cap, size_t *lens, size_t max, size_t &count,
                 const Deadline &d) noexcept override;
  Errc task_done() noexcept override;
  Errc join(const Deadline &d) noexcept override;
  int flags() const noexcept override { return flags_; }
  const std::string &name() const noexcept override { return path_; }

  Errc send_enveloped(const Envelope &env, const iovec *iov, size_t iovcnt,
                      const Deadline &d) noexcept override;
  Errc receive(Received &out, int lease_ms, const Deadline &d) noexcept override;
  Errc ack(Received &m) noexcept override;
  Errc retry(Received &m, const std::string &reason, int64_t delay_ms) noexcept override;
  Errc dead_letter(Received &m, const std::string &reason, bool permanent) noexcept override;
  Errc abandon(Received &m) noexcept override;
  Errc policy(Policy &out) noexcept override;
  Errc set_policy(const Policy &p) noexcept override;

 private:
  class RxLock;
  // What a receive asks for, and where the message goes.
  struct Want {
    void *buf = nullptr;  // the caller's buffer (fq_recv), or
    size_t cap = 0;
    bool peek = false;
    Received *msg = nullptr;   // a message that owns its buffer (fq_recv_msg, fq_lease)
    int lease_ms = -1;         // >= 0: lease it
    bool inline_only = false;  // take only a message held in staging itself (a batch)
    size_t len = 0;            // out: the message's size
    // Where `len` bytes go: TOOSMALL or NOMEM when they cannot. A large
    // `mappable` payload (in a file) for a message gets no buffer: `out` is
    // null and the file is mapped instead.
    Errc place(size_t n, uint8_t *&out, bool mappable = false) noexcept;
  };
  struct Taken {
    ClaimedPayload payload;  // a claimed payload file, copied outside the lock
    bool in_slot = false;    // a claimed slot, copied outside the lock
    SlotRef slot;
    bool held_file = false;  // a leased payload linked into the held table
    HeldRef held;
  };

  FifoTransport(std::string path, int flags)
      : path_(std::move(path)), flags_(flags), held_(map_, payloads_, pid_) {}

  Errc receive_any(Want &w, const Deadline &d) noexcept;
  Errc take_held(Want &w) noexcept;
  Errc lease_locked(Want &w, const Token &tk, const uint8_t *staged, Taken &t) noexcept;
  Errc send_msg(const iovec *iov, size_t iovcnt, const Envelope *env, const Deadline &d) noexcept;
  Errc hold_waiting(Received &m, const Envelope &env, int64_t due_ns) noexcept;

  Errc attach(const OpenOptions &opts) noexcept;
  Errc lock_and_map(const OpenOptions &opts, mode_t mode) noexcept;
  void repair();  // may throw std::bad_alloc
  void recover_after_owner_death() noexcept;
  Errc take_roles(int fd) noexcept;
  Errc check_fork() noexcept;
  Errc reconnect() noexcept;
  void set_pipe_size() noexcept;

  Errc send_line(const iovec *iov, size_t iovcnt, size_t total, const Deadline &d) noexcept;
  Errc write_frame(const iovec *iov, size_t iovcnt, size_t total, const uint8_t *env,
                   size_t env_len, const Deadline &d) noexcept;
  Errc send_ref(FrameKind kind, const uint8_t *ref, size_t ref_len, const uint8_t *env,
                size_t env_len, const Deadline &d) noexcept;
  // Writes one frame (at most PIPE_BUF bytes) into the pipe, or with
  // kDurable into staging when it can.
  Errc emit(const iovec *v, int cnt, size_t total, const Deadline &d) noexcept;
  bool append_staged(const uint8_t *frame, size_t len) noexcept;
  // Room for `msgs` messages of `len` bytes in all.
  Errc reserve(uint64_t len, const Deadline &d, uint64_t msgs = 1) noexcept;
  void release(uint64_t len, uint64_t msgs = 1) noexcept;
  // Packs msgs[0..) as frames into one pipe write: how many fit (at least 1).
  size_t pack_frames(const iovec *msgs, size_t count, uint8_t *out, size_t &len) const noexcept;

  Errc take_locked(Want &w, bool may_read, Taken &t) noexcept;
  bool fill_locked(bool keep_all) noexcept;
  bool compact_locked() noexcept;
  void drain_locked() noexcept;
  void sweep_payloads_locked() noexcept;
  void ring_bell() noexcept;
  void drain_bell() noexcept;
  template <class F>
  void for_each_staged(F &&f) noexcept;

  std::string path_;
  int flags_;
  Fd fifo_, bell_, state_fd_;
  StateMap map_;
  ShmPayloads payloads_;
  SlotArena slots_;
  ForkGuard fork_;
  uint32_t pid_ = 0;
  std::atomic<uint64_t> seq_{0};
  HeldTable held_;
};

std::string state_path(const std::string &fifo);
std::string bell_path(const std::string &fifo);
std::string dead_letter_path(const std::string &fifo);  // the queue P.dlq

}  // namespace fq
