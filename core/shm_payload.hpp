// Payloads too large for one frame: one file each under /dev/shm, written
// completely before the frame that names it enters the pipe.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "errc.hpp"
#include "fifo_io.hpp"
#include "frame.hpp"

namespace fq {

class ClaimedPayload;

class ShmPayloads {
 public:
  ShmPayloads() = default;
  ShmPayloads(uint64_t token, mode_t mode);

  std::string name(uint32_t pid, uint64_t seq) const;

  // Creates a fresh payload file for (pid, *seq), advancing *seq past names
  // already taken, and writes `total` bytes of `iov` into it.
  Errc write(uint32_t pid, uint64_t &seq, const iovec *iov, size_t iovcnt,
             uint64_t total) const noexcept;

  // Takes the payload `ref` for receiver `pid`. From kPoolFrom up: renamed
  // to a name of the receiver's, (pid, *seq) advanced like write's, then
  // opened; dropped, it goes to the pool. Smaller: opened and its name
  // removed at once, so a receiver killed at any point leaves no file.
  // NOENT if it is gone or does not have the promised size.
  Errc claim(const ShmRef &ref, uint32_t pid, uint64_t &seq, ClaimedPayload &out) const noexcept;

  // Copies a claimed payload of `len` bytes into buf.
  static Errc copy(const Fd &fd, uint64_t len, void *buf) noexcept;

  // Opens the payload (pid, seq) for reading, leaving its name in place.
  Errc open(uint32_t pid, uint64_t seq, Fd &out) const noexcept;
  // Gives the payload `from` a second name, (pid, seq): one message gets a
  // new owner without a copy, and the old name stays until the new owner
  // has recorded it. NOENT if it is gone or does not have the promised size.
  Errc link(const ShmRef &from, uint32_t pid, uint64_t seq) const noexcept;

  void remove(uint32_t pid, uint64_t seq) const noexcept;

  // Removes every payload of this queue not in `keep` (pairs of pid, seq),
  // and the pool; returns how many were removed.
  size_t sweep(const std::set<std::pair<uint32_t, uint64_t>> &keep) const noexcept;

  // The pool: payload files receivers are done with, kept with their pages
  // for the next large send, which overwrites one instead of creating a file
  // (a fresh tmpfs page costs several times the copy into it). Small and
  // bounded; swept by the last holder, the first and the queue's removal.
  static constexpr int kPool = 4;
  static constexpr uint64_t kPoolFrom = 256u << 10;  // smaller: renames cost more than pages
  static constexpr uint64_t kPoolMax = 64u << 20;    // larger files are freed
  // Puts the file (pid, seq) of `len` bytes in the pool, or removes it.
  void recycle(uint32_t pid, uint64_t seq, uint64_t len) const noexcept;

 private:
  std::string pool_name(int i) const;
  // Renames a pool file to (pid, *seq) and opens it for writing; an empty
  // Fd if the pool has none.
  Fd reuse(uint32_t pid, uint64_t &seq, std::string &path) const noexcept;

  std::string prefix_;  // "fq-<token>-"
  mode_t mode_ = 0600;
};

// A payload file a receiver claimed, under the receiver's name: dropped, it
// goes back to the pool. A receiver killed while holding one leaves the file
// to the next first holder's sweep.
class ClaimedPayload {
 public:
  ClaimedPayload() = default;
  ClaimedPayload(ClaimedPayload &&o) noexcept { *this = std::move(o); }
  ClaimedPayload &operator=(ClaimedPayload &&o) noexcept {
    if (this != &o) {
      release();
      home_ = std::move(o.home_);
      fd_ = std::move(o.fd_);
      named_ = o.named_;
      pid_ = o.pid_;
      seq_ = o.seq_;
      len_ = o.len_;
    }
    return *this;
  }
  ~ClaimedPayload() { release(); }

  const Fd &fd() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return bool(fd_); }
  void release() noexcept {
    if (!fd_) return;
    fd_.reset();
    if (named_) home_.recycle(pid_, seq_, len_);
  }

 private:
  friend class ShmPayloads;
  ShmPayloads home_;
  Fd fd_;
  bool named_ = false;  // under the receiver's name, for the pool
  uint32_t pid_ = 0;
  uint64_t seq_ = 0, len_ = 0;
};

}  // namespace fq
