#include "held_table.hpp"

#include <fcntl.h>
#include <signal.h>

#include <unistd.h>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "deadline.hpp"
#include "le.hpp"

namespace fq {

// Holds held_mutex. A holder that died inside leaves entries that are FREE,
// BUSY or complete (state is stored last); only the summary needs redoing.
class HeldTable::Lock {
 public:
  explicit Lock(HeldTable &t) noexcept : t_(t) {
    pthread_mutex_t *m = &t.map_.hdr()->held_mutex;
    const int r = pthread_mutex_lock(m);
    if (r == EOWNERDEAD) {
      t.recount_locked();
      pthread_mutex_consistent(m);
    }
    ok_ = r == 0 || r == EOWNERDEAD;
  }
  ~Lock() {
    if (ok_) pthread_mutex_unlock(&t_.map_.hdr()->held_mutex);
  }
  bool ok() const noexcept { return ok_; }

 private:
  HeldTable &t_;
  bool ok_ = false;
};

namespace {

bool pid_gone(uint32_t pid) noexcept { return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

bool HeldTable::ours(const HeldRef &r, uint32_t state) const noexcept {
  if (r.index >= kHeldEntries) return false;
  const HeldEntry &e = at(r.index);
  return e.state.load() == state && e.gen == r.gen && e.owner == pid_;
}

Errc HeldTable::reserve(HeldRef &out) noexcept {
  Lock lock(*this);
  if (!lock.ok()) return Errc::INTERNAL;
  StateHeader *h = map_.hdr();
  for (uint32_t i = 0; i < kHeldEntries; ++i) {
    HeldEntry &e = at(i);
    if (e.state.load() != kHeldFree) continue;
    e.gen += 1;
    e.owner = pid_;
    e.env_len = 0;
    e.payload_len = 0;
    e.in_file = 0;
    e.due_ns = INT64_MAX;
    e.state.store(kHeldBusy);
    if (i >= h->held_high) h->held_high = i + 1;
    out = HeldRef{i, e.gen};
    return Errc::ok;
  }
  return Errc::NOSPC;
}

Errc HeldTable::fill(const HeldRef &r, const Envelope &env, const iovec *iov, size_t iovcnt,
                     uint64_t len) noexcept {
  HeldEntry &e = at(r.index);
  uint8_t *blob = map_.held_blob(r.index);
  const size_t env_len = env.size();
  env.encode(blob);
  e.env_len = uint32_t(env_len);
  e.payload_len = len;
  if (env_len + len <= kHeldBlob) {
    uint8_t *p = blob + env_len;
    for (size_t k = 0; k < iovcnt; ++k) {
      if (iov[k].iov_len == 0) continue;
      std::memcpy(p, iov[k].iov_base, iov[k].iov_len);
      p += iov[k].iov_len;
    }
    e.in_file = 0;
    return Errc::ok;
  }
  return write_file(r.index, r.gen, iov, iovcnt, len);
}

// Writes entry i's payload to its file, named by generation `gen`, and
// records it there.
Errc HeldTable::write_file(uint32_t i, uint32_t gen, const iovec *iov, size_t iovcnt,
                           uint64_t len) noexcept {
  const uint64_t want = file_seq(i, gen);
  uint64_t seq = want;
  payloads_.remove(kFilePid, want);  // a leftover of a writer that died; the name is ours
  if (Errc err = payloads_.write(kFilePid, seq, iov, iovcnt, len); err != Errc::ok) return err;
  if (seq != want) {
    payloads_.remove(kFilePid, seq);
    return Errc::INTERNAL;
  }
  HeldEntry &e = at(i);
  e.file_gen = gen;
  e.in_file = 1;
  return Errc::ok;
}

Errc HeldTable::fill_from_file(const HeldRef &r, const Envelope &env, const ShmRef &from) noexcept {
  HeldEntry &e = at(r.index);
  if (Errc err = payloads_.link(from, kFilePid, file_seq(r.index, r.gen)); err != Errc::ok) {
    return err;
  }
  e.file_gen = r.gen;
  env.encode(map_.held_blob(r.index));
  e.env_len = uint32_t(env.size());
  e.payload_len = from.len;
  e.in_file = 1;
  return Errc::ok;
}

void HeldTable::publish(const HeldRef &r, HeldState to, int64_t due_ns) noexcept {
  Lock lock(*this);
  HeldEntry &e = at(r.index);
  e.due_ns = uint64_t(due_ns);
  e.state.store(to);
  recount_locked();
}

bool HeldTable::release(const HeldRef &r) noexcept {
  Lock lock(*this);
  if (!ours(r, kHeldBusy) && !ours(r, kHeldLeased)) return false;
  free_locked(r.index);
  recount_locked();
  return true;
}

Errc HeldTable::requeue(const HeldRef &r, const Envelope &env, int64_t due_ns) noexcept {
  Lock lock(*this);
  if (!ours(r, kHeldLeased)) return Errc::LEASELOST;
  HeldEntry &e = at(r.index);
  uint8_t *blob = map_.held_blob(r.index);
  const size_t env_len = env.size();
  if (!e.in_file) {
    if (env_len + e.payload_len > kHeldBlob) {
      if (Errc err = spill_locked(r.index); err != Errc::ok) return err;
    } else {
      std::memmove(blob + env_len, blob + e.env_len, e.payload_len);
    }
  }
  env.encode(blob);
  e.env_len = uint32_t(env_len);
  e.gen += 1;  // the old hand-out can no longer settle it
  e.due_ns = uint64_t(due_ns);
  e.state.store(kHeldWaiting);
  recount_locked();
  return Errc::ok;
}

// Moves an inline payload out to its file, to make room for a larger envelope.
Errc HeldTable::spill_locked(uint32_t i) noexcept {
  HeldEntry &e = at(i);
  const iovec v{map_.held_blob(i) + e.env_len, e.payload_len};
  return write_file(i, e.gen, &v, 1, e.payload_len);
}

Errc HeldTable::take_due(int lease_ms, uint64_t max_len, bool peek, HeldRef &out,
                         uint64_t &payload_len) noexcept {
  StateHeader *h = map_.hdr();
  const int64_t due = h->held_due.load(std::memory_order_relaxed);
  const bool leases_out = h->held_leased.load(std::memory_order_relaxed) > 0;
  if (due == INT64_MAX && !leases_out) return Errc::AGAIN;  // the plain path's only cost
  const int64_t now = Deadline::now_ns();
  const bool look_for_dead = leases_out && !peek && now - h->held_checked_ns >= kDeadCheckNs;
  if (due > now && !look_for_dead) return Errc::AGAIN;
  const bool lease = lease_ms >= 0;
  Lock lock(*this);
  if (!lock.ok()) return Errc::INTERNAL;
  if (look_for_dead) h->held_checked_ns = now;
  bool changed = false;
  Errc result = Errc::AGAIN;
  for (uint32_t i = 0; i < h->held_high && result == Errc::AGAIN; ++i) {
    HeldEntry &e = at(i);
    const uint32_t s = e.state.load();
    if (s == kHeldBusy && look_for_dead && e.owner != pid_ && pid_gone(e.owner)) {
      free_locked(i);  // its writer died before publishing it
      changed = true;
      continue;
    }
    const bool expired =
        s == kHeldLeased && (int64_t(e.due_ns) <= now || (look_for_dead && pid_gone(e.owner)));
    if (!(s == kHeldWaiting && int64_t(e.due_ns) <= now) && !expired) continue;
    if (e.payload_len > max_len || peek) {
      payload_len = e.payload_len;
      result = peek ? Errc::ok : Errc::TOOSMALL;
      break;
    }
    if (expired) h->redelivered.fetch_add(1, std::memory_order_relaxed);
    uint8_t *attempts = map_.held_blob(i) + kEnvelopeAttemptsOffset;
    store32(attempts, load32(attempts) + 1);
    e.gen += 1;
    e.owner = pid_;
    e.due_ns = uint64_t(lease ? now + int64_t(lease_ms) * 1000000 : INT64_MAX);
    e.state.store(lease ? kHeldLeased : kHeldBusy);
    out = HeldRef{i, e.gen};
    payload_len = e.payload_len;
    changed = true;
    result = Errc::ok;
  }
  if (changed) recount_locked();
  return result;
}

Errc HeldTable::read(const HeldRef &r, Envelope &env, void *buf) noexcept {
  const HeldEntry &e = at(r.index);
  const uint8_t *blob = map_.held_blob(r.index);
  size_t used = 0;
  try {
    if (!env.decode(blob, e.env_len, &used)) return Errc::INTERNAL;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
  if (e.payload_len == 0) return Errc::ok;
  if (!e.in_file) {
    std::memcpy(buf, blob + e.env_len, e.payload_len);
    return Errc::ok;
  }
  Fd fd;
  if (Errc err = payloads_.open(kFilePid, file_seq(r.index, e.file_gen), fd); err != Errc::ok) {
    return err;
  }
  return ShmPayloads::copy(fd, e.payload_len, buf);
}

Policy HeldTable::policy() noexcept {
  Lock lock(*this);
  return map_.hdr()->policy;
}

void HeldTable::set_policy(const Policy &p) noexcept {
  Lock lock(*this);
  map_.hdr()->policy = p;
}

int64_t HeldTable::wake_at() const noexcept {
  const StateHeader *h = map_.hdr();
  int64_t at = h->held_due.load(std::memory_order_relaxed);
  if (h->held_leased.load(std::memory_order_relaxed) > 0) {
    const int64_t check = h->held_checked_ns + kDeadCheckNs;
    if (check < at) at = check;
  }
  return at;
}

uint64_t HeldTable::count() const noexcept {
  uint64_t n = 0;
  for (uint32_t i = 0; i < map_.hdr()->held_high && i < kHeldEntries; ++i) {
    const uint32_t s = at(i).state.load(std::memory_order_relaxed);
    n += s == kHeldLeased || s == kHeldWaiting;
  }
  return n;
}

void HeldTable::keep_files(std::set<std::pair<uint32_t, uint64_t>> &keep) const noexcept {
  for (uint32_t i = 0; i < kHeldEntries; ++i) {
    const HeldEntry &e = at(i);
    const uint32_t s = e.state.load();
    if ((s == kHeldLeased || s == kHeldWaiting) && e.in_file) {
      keep.insert({kFilePid, file_seq(i, e.file_gen)});
    }
  }
}

void HeldTable::repair(bool rebooted, std::set<std::pair<uint32_t, uint64_t>> &keep) noexcept {
  StateHeader *h = map_.hdr();
  StateMap::init_mutex(&h->held_mutex);
  for (uint32_t i = 0; i < kHeldEntries; ++i) {
    HeldEntry &e = at(i);
    const uint32_t s = e.state.load();
    if (s == kHeldBusy) free_locked(i);
    if (s != kHeldLeased && s != kHeldWaiting) continue;
    // Monotonic times of another boot mean nothing now; and with no other
    // holder of the queue, every lease holder is gone.
    if (rebooted || s == kHeldLeased) e.due_ns = 0;
    if (e.in_file) keep.insert({kFilePid, file_seq(i, e.file_gen)});
  }
  h->held_checked_ns = 0;
  h->held_high = kHeldEntries;  // recount finds the real one
  recount_locked();
}

void HeldTable::free_locked(uint32_t i) noexcept {
  HeldEntry &e = at(i);
  if (e.in_file) payloads_.remove(kFilePid, file_seq(i, e.file_gen));
  e.state.store(kHeldFree);
}

void HeldTable::recount_locked() noexcept {
  StateHeader *h = map_.hdr();
  int64_t due = INT64_MAX;
  uint32_t leased = 0, high = 0;
  for (uint32_t i = 0; i < h->held_high && i < kHeldEntries; ++i) {
    const HeldEntry &e = at(i);
    const uint32_t s = e.state.load();
    if (s == kHeldFree) continue;
    high = i + 1;
    if (s == kHeldLeased) ++leased;
    if ((s == kHeldLeased || s == kHeldWaiting) && int64_t(e.due_ns) < due) due = int64_t(e.due_ns);
  }
  h->held_high = high;
  h->held_leased.store(leased);
  h->held_due.store(due);
}

}  // namespace fq
