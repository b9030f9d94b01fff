// Who holds a queue, counted by the kernel: each handle keeps an OFD read lock
// on the state file per role, which the kernel drops with the handle's open
// file description, at close or whenever the process dies (core/README.md,
// "Queue state").
#pragma once
#include <cstdint>

#include "errc.hpp"

namespace fq {

// The byte of the state file each role's lock covers.
constexpr long kSenderByte = 1;
constexpr long kReceiverByte = 2;

// Takes the role locks on `fd`, which must be the handle's own open file
// description: locks on a shared one would be counted once and dropped late.
Errc lock_roles(int fd, bool sender, bool receiver) noexcept;

struct Attached {
  uint64_t senders = 0;
  uint64_t receivers = 0;
};

// Counts the role locks held on the file `fd` refers to, from /proc/locks.
// SYS (errno set) if /proc/locks cannot be read.
Errc count_roles(int fd, Attached &out) noexcept;

}  // namespace fq
