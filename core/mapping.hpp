// A received payload file mapped in place, unmapped when dropped: large
// messages reach the caller without a copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

#include "errc.hpp"
#include "shm_payload.hpp"

namespace fq {

class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping &&o) noexcept
      : p_(std::exchange(o.p_, nullptr)),
        len_(std::exchange(o.len_, 0)),
        file_(std::move(o.file_)) {}
  Mapping &operator=(Mapping &&o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      len_ = std::exchange(o.len_, 0);
      file_ = std::move(o.file_);
    }
    return *this;
  }
  ~Mapping() { reset(); }

  // Maps the first `len` bytes of `fd` (len > 0), private to this process:
  // its pages are the file's until the caller writes to one, which then gets
  // a copy of its own; nobody else sees the write.
  Errc map(int fd, size_t len) noexcept;
  // The same for a claimed payload, which goes to the pool once unmapped.
  Errc map(ClaimedPayload &&file, size_t len) noexcept;
  void reset() noexcept;

  uint8_t *data() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  uint8_t *p_ = nullptr;
  size_t len_ = 0;
  ClaimedPayload file_;
};

}  // namespace fq
