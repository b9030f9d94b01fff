// The one place where C++ exceptions stop: every C entry point runs its body
// through guarded(), so nothing is thrown across the C boundary.
#pragma once
#include <new>

#include "errc.hpp"

namespace fq {

template <class F>
int guarded(F &&body) noexcept {
  try {
    return static_cast<int>(body());
  } catch (const std::bad_alloc &) {
    return static_cast<int>(Errc::NOMEM);
  } catch (...) {
    // A bug: report it as one rather than as success or a misleading code.
    return static_cast<int>(Errc::INTERNAL);
  }
}

}  // namespace fq
