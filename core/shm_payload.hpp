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

class ShmPayloads {
 public:
  ShmPayloads() = default;
  ShmPayloads(uint64_t token, mode_t mode);

  std::string name(uint32_t pid, uint64_t seq) const;

  // Creates a fresh payload file for (pid, *seq), advancing *seq past names
  // already taken, and writes `total` bytes of `iov` into it.
  Errc write(uint32_t pid, uint64_t &seq, const iovec *iov, size_t iovcnt,
             uint64_t total) const noexcept;

  // Opens the payload `ref` and removes its name at once, so from here on a
  // receiver killed at any point leaves no file: the kernel frees it with the
  // descriptor. NOENT if it is gone or does not have the promised size.
  Errc claim(const ShmRef &ref, Fd &out) const noexcept;

  // Copies a claimed payload of `len` bytes into buf.
  static Errc copy(const Fd &fd, uint64_t len, void *buf) noexcept;

  // Opens the payload (pid, seq) for reading, leaving its name in place.
  Errc open(uint32_t pid, uint64_t seq, Fd &out) const noexcept;
  // Gives the payload `from` a second name, (pid, seq): one message gets a
  // new owner without a copy, and the old name stays until the new owner
  // has recorded it. NOENT if it is gone or does not have the promised size.
  Errc link(const ShmRef &from, uint32_t pid, uint64_t seq) const noexcept;

  void remove(uint32_t pid, uint64_t seq) const noexcept;

  // Removes every payload of this queue not in `keep` (pairs of pid, seq);
  // returns how many were removed.
  size_t sweep(const std::set<std::pair<uint32_t, uint64_t>> &keep) const noexcept;

 private:
  std::string prefix_;  // "fq-<token>-"
  mode_t mode_ = 0600;
};

}  // namespace fq
