#include "queue.hpp"

#include <new>

#include "fifo_transport.hpp"

namespace fq {

Errc open_transport(const char *path, int flags, const OpenOptions &opts,
                    std::unique_ptr<Transport> &out) noexcept {
  try {
    return FifoTransport::open(path, flags, opts, out);
  } catch (const std::bad_alloc &) {  // building the path string
    return Errc::NOMEM;
  }
}

Errc unlink_queue(const char *path) noexcept {
  try {
    return FifoTransport::unlink(path);
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

}  // namespace fq
