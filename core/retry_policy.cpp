#include "retry_policy.hpp"

#include <cmath>

namespace fq {

Policy effective(const Policy &p) noexcept {
  Policy e = p;
  if (e.max_attempts == 0) {  // never set: every default, jitter included
    e = Policy{};
    e.max_attempts = 5;
    e.jitter_pct = 20;
  }
  if (e.lease_ms == 0) e.lease_ms = 30'000;
  if (e.backoff_base_ms == 0) e.backoff_base_ms = 1'000;
  if (e.backoff_cap_ms == 0) e.backoff_cap_ms = 600'000;
  if (!(e.backoff_factor >= 1.0)) e.backoff_factor = 2.0;  // also catches NaN
  if (e.jitter_pct > 100) e.jitter_pct = 100;
  return e;
}

int64_t backoff_ms(const Policy &policy, uint32_t attempts, uint64_t random) noexcept {
  const Policy p = effective(policy);
  const double n = attempts > 0 ? double(attempts - 1) : 0.0;
  double d = double(p.backoff_base_ms) * std::pow(p.backoff_factor, n);
  if (!(d <= double(p.backoff_cap_ms))) d = p.backoff_cap_ms;  // also catches overflow to inf
  const auto delay = int64_t(d);
  const int64_t spread = delay * p.jitter_pct / 100;
  return spread > 0 ? delay - int64_t(random % uint64_t(spread + 1)) : delay;
}

}  // namespace fq
