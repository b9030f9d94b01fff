// The seam between the queue's face and its engine. The FIFO transport fills
// it today; a broker transport can fill it without changing the C API.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "deadline.hpp"
#include "errc.hpp"
#include "shared_state.hpp"

namespace fq {

// Open flags; the C API's FQ_* values are the same numbers.
enum OpenFlags : int {
  kRead = 1,
  kWrite = 2,
  kCreate = 4,
  kLines = 8,
  kNonblock = 16,
};
constexpr int kAllFlags = kRead | kWrite | kCreate | kLines | kNonblock;

struct OpenOptions {
  mode_t mode = 0600;
  Limits limits;  // zero fields take the defaults
};

struct Stats {
  uint64_t queued_msgs = 0;  // counted messages waiting (fq senders only)
  uint64_t queued_bytes = 0;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t garbage_bytes = 0;  // bytes skipped as neither frame nor line
  uint64_t dropped = 0;        // messages dropped: corrupt frames, bad lines, lost payloads
  uint64_t lost_reads = 0;     // reads lost with a receiver killed inside read()
  uint64_t max_msg = 0;
  uint64_t room_msgs = 0;
  uint64_t room_bytes = 0;
  uint64_t pipe_size = 0;
  uint64_t senders = 0;     // open handles with kWrite, in every process
  uint64_t receivers = 0;   // open handles with kRead
  uint64_t unfinished = 0;  // counted messages sent and not yet task_done
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends the concatenation of `iov` as one message.
  virtual Errc send(const iovec *iov, size_t iovcnt, const Deadline &d) noexcept = 0;
  // Receives one message into buf. `len` gets its size, also on TOOSMALL.
  // With `peek`, only reports the size of the next message.
  virtual Errc recv(void *buf, size_t cap, size_t *len, bool peek, const Deadline &d) noexcept = 0;
  virtual Errc stats(Stats &out) noexcept = 0;
  // Marks one message as processed; INVAL if none is unfinished.
  virtual Errc task_done() noexcept = 0;
  // Waits until every message sent has been marked processed.
  virtual Errc join(const Deadline &d) noexcept = 0;
  // Flags given at open, so the face can pick default timeouts.
  virtual int flags() const noexcept = 0;
};

}  // namespace fq
