// The seam between the queue's face and its engine. The FIFO transport fills
// it today; a broker transport can fill it without changing the C API.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "deadline.hpp"
#include "envelope.hpp"
#include "errc.hpp"
#include "mapping.hpp"
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
// Internal, not in the C API: frames go into the queue's state file rather
// than the pipe where they can, so they outlive every process (dead letters).
constexpr int kDurable = 1 << 16;

struct OpenOptions {
  mode_t mode = 0600;
  Limits limits;  // zero fields take the defaults
  // The broker's AMQP URI; null: FQ_BROKER from the environment; "": a FIFO.
  const char *broker = nullptr;
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
  uint64_t held = 0;  // leased or waiting for a retry
  uint64_t leased = 0;
  uint64_t retried = 0;  // retries scheduled
  uint64_t dead_lettered = 0;
  uint64_t redelivered = 0;  // leases that ran out or whose holder died
  uint64_t senders = 0;      // open handles with kWrite, in every process
  uint64_t receivers = 0;    // open handles with kRead
  uint64_t unfinished = 0;   // counted messages sent and not yet task_done
};

// A message received with its envelope; owns its payload.
struct Received {
  Envelope env;
  std::unique_ptr<uint8_t[]> data;  // the payload, copied; or
  Mapping view;                     // a large payload, mapped where the sender wrote it
  size_t len = 0;
  bool leased = false;  // held for us until settled or the lease runs out
  uint64_t lease = 0;   // the transport's handle on what it holds

  uint8_t *bytes() const noexcept { return view ? view.data() : data.get(); }
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

  // Sends msgs[0..count), each one message; `sent` gets how many went, also
  // on error. The default sends them one by one.
  virtual Errc send_many(const iovec *msgs, size_t count, size_t &sent, const Deadline &d) noexcept;
  // Receives up to `max` messages back to back into buf: waits for the
  // first, then takes only what is already there. The default receives
  // them one by one.
  virtual Errc recv_many(void *buf, size_t cap, size_t *lens, size_t max, size_t &count,
                         const Deadline &d) noexcept;

  // Sends one message with an envelope (forwarding, dead letters, redrive).
  virtual Errc send_enveloped(const Envelope &env, const iovec *iov, size_t iovcnt,
                              const Deadline &d) noexcept = 0;
  // Receives one message with its envelope. With lease_ms >= 0 the queue
  // keeps it until it is settled below or the lease runs out.
  virtual Errc receive(Received &out, int lease_ms, const Deadline &d) noexcept = 0;
  // Settles a received message. A message received without a lease can
  // still be retried or dead-lettered: it is held anew.
  virtual Errc ack(Received &m) noexcept = 0;
  virtual Errc retry(Received &m, const std::string &reason, int64_t delay_ms) noexcept = 0;
  virtual Errc dead_letter(Received &m, const std::string &reason, bool permanent) noexcept = 0;
  // Gives a leased message back for another receiver at once.
  virtual Errc abandon(Received &m) noexcept = 0;

  // The queue's retry policy, shared by every process using it.
  virtual Errc policy(Policy &out) noexcept = 0;
  virtual Errc set_policy(const Policy &p) noexcept = 0;

  // Marks one message as processed; INVAL if none is unfinished.
  virtual Errc task_done() noexcept = 0;
  // Waits until every message sent has been marked processed.
  virtual Errc join(const Deadline &d) noexcept = 0;
  // Flags given at open, so the face can pick default timeouts.
  virtual int flags() const noexcept = 0;
  // The queue's name as opened (a FIFO path).
  virtual const std::string &name() const noexcept = 0;
};

}  // namespace fq
