#include "failure.hpp"

#include <sys/random.h>
#include <sys/stat.h>

#include <map>
#include <memory>

#include "queue.hpp"
#include "retry_policy.hpp"

namespace fq {
namespace {

bool same_file(const std::string &a, const std::string &b) noexcept {
  struct stat x, y;
  return ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev &&
         x.st_ino == y.st_ino;
}

}  // namespace

Errc fail(Transport &t, Received &m, const std::string &reason, bool permanent,
          int64_t &retry_ms) noexcept {
  Policy p;
  if (Errc e = t.policy(p); e != Errc::ok) return e;
  if (gives_up(p, m.env.attempts, permanent)) {
    retry_ms = -1;
    return t.dead_letter(m, reason, permanent);
  }
  uint64_t random = 0;
  if (::getrandom(&random, sizeof random, GRND_NONBLOCK) != sizeof random) random = 0;
  retry_ms = backoff_ms(p, m.env.attempts, random);
  return t.retry(m, reason, retry_ms);
}

Errc redrive(Transport &dlq, const std::string &to, size_t &moved) noexcept {
  moved = 0;
  try {
    std::map<std::string, std::unique_ptr<Transport>> targets;
    Policy p;
    if (Errc e = dlq.policy(p); e != Errc::ok) return e;
    const int lease_ms = int(effective(p).lease_ms);
    for (;;) {
      Received m;
      Errc e = dlq.receive(m, lease_ms, Deadline::after_ms(0));
      if (e == Errc::AGAIN) return Errc::ok;  // empty: done
      if (e != Errc::ok) return e;
      const std::string &dest = to.empty() ? m.env.origin : to;
      if (dest.empty() || same_file(dest, dlq.name())) {
        dlq.abandon(m);
        return Errc::INVAL;  // nowhere to send it, or back into itself: left where it is
      }
      std::unique_ptr<Transport> &target = targets[dest];
      if (!target) e = open_transport(dest.c_str(), kWrite, OpenOptions{}, target);
      if (e == Errc::ok) {
        Envelope env = m.env;
        env.attempts = 0;  // a fresh start; the deaths stay on record
        env.flags = 0;
        env.not_before_ms = 0;
        const iovec v{m.bytes(), m.len};
        e = target->send_enveloped(env, &v, 1, Deadline::after_ms(-1));
      }
      if (e != Errc::ok) {
        dlq.abandon(m);
        return e;
      }
      // Sent: from here a lost lease can only mean a duplicate, not a loss.
      dlq.ack(m);
      ++moved;
    }
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

}  // namespace fq
