#include "queue.hpp"

#include <cstdlib>
#include <new>

#include "fifo_transport.hpp"
#ifdef FQ_HAVE_BROKER
#include "broker_transport.hpp"
#endif

namespace fq {
namespace {

// The broker to use, or null for a FIFO.
const char *broker_url(const OpenOptions &opts) noexcept {
  const char *url = opts.broker ? opts.broker : std::getenv("FQ_BROKER");
  return url && *url ? url : nullptr;
}

}  // namespace

Errc open_transport(const char *path, int flags, const OpenOptions &opts,
                    std::unique_ptr<Transport> &out) noexcept {
  try {
    if (const char *url = broker_url(opts)) {
#ifdef FQ_HAVE_BROKER
      return BrokerTransport::open(url, path, flags, opts, out);
#else
      return Errc::NOTSUP;  // built without librabbitmq: say so, never a FIFO instead
#endif
    }
    return FifoTransport::open(path, flags, opts, out);
  } catch (const std::bad_alloc &) {  // building the path string
    return Errc::NOMEM;
  }
}

Errc unlink_queue(const char *path) noexcept {
  try {
    if (const char *url = broker_url(OpenOptions{})) {
#ifdef FQ_HAVE_BROKER
      return BrokerTransport::unlink(url, path);
#else
      return Errc::NOTSUP;
#endif
    }
    return FifoTransport::unlink(path);
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

}  // namespace fq
