// Picks the transport for a queue name. Today every name is a FIFO path; the
// broker transport will be chosen here (FQ_BROKER), behind the same seam.
#pragma once
#include <memory>

#include "transport.hpp"

namespace fq {

Errc open_transport(const char *path, int flags, const OpenOptions &opts,
                    std::unique_ptr<Transport> &out) noexcept;
Errc unlink_queue(const char *path) noexcept;

}  // namespace fq
