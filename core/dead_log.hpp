// The dead log: an append-only file beside a queue (P.fq-dead) with one
// record per dead letter, the durable place a person inspects later.
// Record: u32 magic "fqdl", u32 length of what follows the 12-byte head,
// u32 CRC-32C of it, then the envelope and the payload.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "envelope.hpp"
#include "errc.hpp"
#include "fifo_io.hpp"

namespace fq {

// The dead log of the queue at `fifo`.
inline std::string dead_log_path(const std::string &fifo) { return fifo + ".fq-dead"; }

// Appends one record with a single write, then fdatasync.
Errc dead_log_append(const std::string &path, mode_t mode, const Envelope &env, const void *payload,
                     size_t len) noexcept;

// Reads the records of a dead log in order. A torn or corrupt tail (a writer
// killed mid-append) ends the log; it is counted, not returned.
class DeadLogReader {
 public:
  Errc open(const std::string &path) noexcept;
  // Reads an already open log from its current offset.
  void open(Fd fd) noexcept { fd_ = std::move(fd); }
  // The next record: ok, AGAIN at the end.
  Errc next(Envelope &env, std::vector<uint8_t> &payload) noexcept;
  uint64_t corrupt() const noexcept { return corrupt_; }  // 0 or 1

 private:
  Fd fd_;
  uint64_t corrupt_ = 0;  // 1 once a bad record ended the log: nothing after it is read
};

}  // namespace fq
