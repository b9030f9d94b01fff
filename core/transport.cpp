// The seam's batch calls, for a transport without a faster way: one message
// at a time, with the same results as the FIFO transport's own.
#include "transport.hpp"

namespace fq {

Errc Transport::send_many(const iovec *msgs, size_t count, size_t &sent,
                          const Deadline &d) noexcept {
  for (sent = 0; sent < count; ++sent) {
    if (Errc e = send(&msgs[sent], 1, d); e != Errc::ok) return e;
  }
  return Errc::ok;
}

Errc Transport::recv_many(void *buf, size_t cap, size_t *lens, size_t max, size_t &count,
                          const Deadline &d) noexcept {
  auto *out = static_cast<uint8_t *>(buf);
  size_t used = 0;
  for (count = 0; count < max; ++count) {
    const Deadline wait = count == 0 ? d : Deadline::after_ms(0);
    const Errc e = recv(out ? out + used : nullptr, cap - used, &lens[count], false, wait);
    if (e != Errc::ok) return count > 0 ? Errc::ok : e;  // what is there, or why not
    used += lens[count];
  }
  return Errc::ok;
}

}  // namespace fq
