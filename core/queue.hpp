// Picks the transport for a queue name: the broker's (core/broker.md) when
// the options or FQ_BROKER in the environment name one, else the FIFO at the path.
#pragma once
#include <memory>

#include "transport.hpp"

namespace fq {

Errc open_transport(const char *path, int flags, const OpenOptions &opts,
                    std::unique_ptr<Transport> &out) noexcept;
Errc unlink_queue(const char *path) noexcept;

}  // namespace fq
