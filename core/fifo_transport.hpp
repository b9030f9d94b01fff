// The FIFO transport: the queue engine described in core/README.md.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "fifo_io.hpp"
#include "fork_guard.hpp"
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
  Errc task_done() noexcept override;
  Errc join(const Deadline &d) noexcept override;
  int flags() const noexcept override { return flags_; }

 private:
  class RxLock;
  struct Taken {
    size_t len = 0;
    Fd payload;            // a claimed payload file, copied outside the lock
    bool in_slot = false;  // a claimed slot, copied outside the lock
    SlotRef slot;
  };

  FifoTransport(std::string path, int flags) : path_(std::move(path)), flags_(flags) {}

  Errc attach(const OpenOptions &opts) noexcept;
  Errc lock_and_map(const OpenOptions &opts, mode_t mode) noexcept;
  void repair();  // may throw std::bad_alloc
  void recover_after_owner_death() noexcept;
  Errc take_roles(int fd) noexcept;
  Errc check_fork() noexcept;
  Errc reconnect() noexcept;
  void set_pipe_size() noexcept;

  Errc send_line(const iovec *iov, size_t iovcnt, size_t total, const Deadline &d) noexcept;
  Errc write_frame(const iovec *iov, size_t iovcnt, size_t total, const Deadline &d) noexcept;
  Errc send_shm(const iovec *iov, size_t iovcnt, uint64_t total, const Deadline &d) noexcept;
  Errc send_slot(const SlotRef &ref, const Deadline &d) noexcept;
  Errc reserve(uint64_t len, const Deadline &d) noexcept;
  void release(uint64_t len) noexcept;

  Errc take_locked(void *buf, size_t cap, bool peek, bool may_read, Taken &t) noexcept;
  bool fill_locked() noexcept;
  bool compact_locked() noexcept;
  void drain_locked() noexcept;
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
};

std::string state_path(const std::string &fifo);
std::string bell_path(const std::string &fifo);

}  // namespace fq
