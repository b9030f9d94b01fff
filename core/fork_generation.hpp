// How many forks this process has been through, as parent or child. A
// received payload mapped before a fork may be mapped in the other process
// too, so its file must not go back to the pool, where the next sender would
// overwrite the pages that process still reads.
#pragma once
#include <cstdint>

namespace fq {

// The count; the first call starts counting (fq calls it before it maps).
uint64_t fork_generation() noexcept;

}  // namespace fq
