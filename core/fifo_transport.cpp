#include "fifo_transport.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "crc32c.hpp"
#include "dead_log.hpp"
#include "frame.hpp"
#include "futex.hpp"
#include "joinable.hpp"
#include "retry_policy.hpp"
#include "role_locks.hpp"

namespace fq {

std::string state_path(const std::string &fifo) { return fifo + ".fq-state"; }
std::string bell_path(const std::string &fifo) { return fifo + ".fq-bell"; }
std::string dead_letter_path(const std::string &fifo) { return fifo + ".dlq"; }

// Holds rx_mutex. If its previous owner died inside, repairs the staging marks
// before anyone reads staging again.
class FifoTransport::RxLock {
 public:
  explicit RxLock(FifoTransport &t) noexcept : t_(t) {
    pthread_mutex_t *m = &t.map_.hdr()->rx_mutex;
    const int r = pthread_mutex_lock(m);
    if (r == EOWNERDEAD) {
      t.recover_after_owner_death();
      pthread_mutex_consistent(m);
    } else if (r != 0) {
      err_ = Errc::INTERNAL;  // ENOTRECOVERABLE: only the next first holder can mend it
    }
  }
  ~RxLock() {
    if (err_ == Errc::ok) pthread_mutex_unlock(&t_.map_.hdr()->rx_mutex);
  }
  Errc err() const noexcept { return err_; }

 private:
  FifoTransport &t_;
  Errc err_ = Errc::ok;
};

// ---- opening and closing ----

Errc FifoTransport::open(const std::string &path, int flags, const OpenOptions &opts,
                         std::unique_ptr<Transport> &out) noexcept {
  if ((flags & ~(kAllFlags | kDurable)) != 0 || (flags & (kRead | kWrite)) == 0) {
    return Errc::INVAL;
  }
  if ((opts.mode & ~mode_t(0777)) != 0 || path.empty()) return Errc::INVAL;
  try {
    std::unique_ptr<FifoTransport> t(new FifoTransport(path, flags));
    if (Errc e = t->attach(opts); e != Errc::ok) {
      const int cause = errno;  // closing the half-open handle must not hide it
      t.reset();
      errno = cause;
      return e;
    }
    out = std::move(t);
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc FifoTransport::attach(const OpenOptions &opts) noexcept {
  if (Errc e = open_fifo(path_, flags_ & kCreate, opts.mode, fifo_); e != Errc::ok) return e;
  // The sidecars take the FIFO's permissions: whoever may use the queue may use them.
  struct stat st;
  if (::fstat(fifo_.get(), &st) != 0) return errc_from_errno(errno);
  const mode_t mode = st.st_mode & 0666;
  try {
    if (Errc e = open_fifo(bell_path(path_), true, mode, bell_); e != Errc::ok) return e;
    if (Errc e = open_regular(state_path(path_), mode, state_fd_); e != Errc::ok) return e;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
  if (Errc e = lock_and_map(opts, mode); e != Errc::ok) return e;
  if (Errc e = take_roles(state_fd_.get()); e != Errc::ok) return e;
  payloads_ = ShmPayloads(map_.hdr()->token, mode);
  seq_.store(uint64_t(Deadline::now_ns()));
  pid_ = uint32_t(::getpid());
  return Errc::ok;
}

// Every handle holds a shared flock on the state file. Getting it exclusive
// means no other process holds the queue: initialise or repair it then.
Errc FifoTransport::lock_and_map(const OpenOptions &opts, mode_t mode) noexcept {
  const int fd = state_fd_.get();
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      Errc e = map_.attach(fd);
      if (e == Errc::INVAL) e = map_.create(fd, opts.limits);
      if (e == Errc::ok) {
        try {
          payloads_ = ShmPayloads(map_.hdr()->token, mode);
          slots_.open(map_.hdr()->token, true, mode);  // optional: files work without it
          repair();
        } catch (const std::bad_alloc &) {
          e = Errc::NOMEM;
        }
      }
      if (e == Errc::ok) set_pipe_size();
      if (e == Errc::ok && ::flock(fd, LOCK_SH) != 0) e = errc_from_errno(errno);
      if (e != Errc::ok) ::flock(fd, LOCK_UN);
      return e;
    }
    if (errno != EWOULDBLOCK) return errc_from_errno(errno);
    if (::flock(fd, LOCK_SH) != 0) return errc_from_errno(errno);
    const Errc e = map_.attach(fd);
    if (e == Errc::ok) slots_.open(map_.hdr()->token, false, mode);
    if (e != Errc::INVAL) return e;
    ::flock(fd, LOCK_UN);  // its initialiser died half-way: try to take over
  }
  return Errc::INTERNAL;
}

FifoTransport::~FifoTransport() {
  if (pid_ == 0) return;  // never fully opened
  // A fork child must not touch the lock it shares with its parent.
  if (check_fork() != Errc::ok) return;
  if (::flock(state_fd_.get(), LOCK_EX | LOCK_NB) != 0) return;
  // The last holder: keep what is still in the pipe, which dies with our descriptor.
  {
    RxLock lock(*this);
    if (lock.err() == Errc::ok) {
      drain_locked();
      sweep_payloads_locked();
    }
  }
  ::flock(state_fd_.get(), LOCK_UN);
}

// The last holder: nobody else holds a payload file now, so those that
// neither staging nor the held table refers to (the pool, a killed
// receiver's, a killed sender's) go.
void FifoTransport::sweep_payloads_locked() noexcept {
  try {
    std::set<std::pair<uint32_t, uint64_t>> keep;
    for_each_staged([&](const Token &t) {
      if (t.kind == Token::shm_ref) keep.insert({t.ref.pid, t.ref.seq});
    });
    held_.keep_files(keep);
    payloads_.sweep(keep);
  } catch (const std::bad_alloc &) {
    // Left for the next first holder's sweep.
  }
}

void FifoTransport::set_pipe_size() noexcept {
  const StateHeader *h = map_.hdr();
  uint64_t want = h->limits.pipe_size;
  const uint64_t fits = (h->staging_cap - 64 * 1024) / 2;  // a drain must fit staging
  if (want > fits) want = fits;
  if (want > uint64_t(INT_MAX)) want = INT_MAX;
  const int cur = ::fcntl(fifo_.get(), F_GETPIPE_SZ);
  // Best effort: an unprivileged user past pipe-user-pages-soft gets EPERM,
  // and a pipe holding more than `want` cannot shrink (EBUSY).
  if (cur >= 0 && uint64_t(cur) != want) ::fcntl(fifo_.get(), F_SETPIPE_SZ, int(want));
}

// First holder only: nobody else uses the state, so it is safe to reset the
// mutex and waiter counts, recount the room and collect orphaned payloads.
void FifoTransport::repair() {
  StateHeader *h = map_.hdr();
  StateMap::init_mutex(&h->rx_mutex);
  h->rx_waiters.store(0);
  h->room_waiters.store(0);
  h->join_waiters.store(0);
  recover_after_owner_death();
  uint64_t msgs = 0, bytes = 0;
  std::set<std::pair<uint32_t, uint64_t>> keep_files;
  std::set<std::pair<uint32_t, uint32_t>> keep_slots;
  for_each_staged([&](const Token &t) {
    if (t.counted) {
      ++msgs;
      bytes += t.msg_len;
    }
    if (t.kind == Token::shm_ref) keep_files.insert({t.ref.pid, t.ref.seq});
    if (t.kind == Token::slot_ref) keep_slots.insert({t.slot.index, t.slot.gen});
  });
  h->queued.store(Room::pack(msgs, bytes));
  // Held due times are on this boot's monotonic clock: after a reboot every
  // held message is due at once.
  char boot[sizeof h->boot_id] = {};
  if (FILE *f = std::fopen("/proc/sys/kernel/random/boot_id", "re")) {
    if (!std::fgets(boot, sizeof boot, f)) boot[0] = 0;
    std::fclose(f);
  }
  const bool rebooted = std::memcmp(boot, h->boot_id, sizeof boot) != 0;
  std::memcpy(h->boot_id, boot, sizeof boot);
  held_.repair(rebooted, keep_files);
  // unfinished is kept (core/README.md, "Queue state"); each staged counted
  // message is certainly unfinished, so it is at least that many.
  if (h->unfinished.load() < msgs) h->unfinished.store(msgs);
  payloads_.sweep(keep_files);
  slots_.reset(keep_slots);
}

void FifoTransport::recover_after_owner_death() noexcept {
  StateHeader *h = map_.hdr();
  if (h->moving.load() != 0) {
    // Compaction was cut short: staging can no longer be trusted.
    const uint64_t c = h->cursor.load();
    h->garbage_bytes.fetch_add(cursor_tail(c) - cursor_head(c));
    h->cursor.store(0);
    h->moving.store(0);
    h->resync = kResyncStart;
    h->lost_reads.fetch_add(1);
  }
  const uint64_t pending = h->pending_read.load();
  if (pending != 0) {
    // The owner died inside read(): if the cursor did not move, the bytes it
    // took from the pipe are in staging but not counted. If it knew how many
    // (a leased receive), they are adopted; if not, they are lost and the
    // pipe may start mid-frame.
    const uint64_t c = h->cursor.load();
    if (pending - 1 == cursor_tail(c)) {
      const uint64_t len = h->pending_len.load();
      if (len > 0) {
        h->cursor.store(make_cursor(cursor_head(c), cursor_tail(c) + len));
      } else {
        h->resync = kResyncStart;
        h->lost_reads.fetch_add(1);
      }
    }
    h->pending_read.store(0);
    h->pending_len.store(0);
  }
}

// Our role locks, on a descriptor of our own (core/README.md, "Queue state").
Errc FifoTransport::take_roles(int fd) noexcept {
  return lock_roles(fd, (flags_ & kWrite) != 0, (flags_ & kRead) != 0);
}

Errc FifoTransport::check_fork() noexcept {
  if (fork_.armed() || !fork_.claim()) return Errc::ok;
  const Errc e = reconnect();
  fork_.done(e == Errc::ok);
  return e;
}

// In a fork child: hold the queue through our own open file description, so
// our close never converts the lock the parent holds.
Errc FifoTransport::reconnect() noexcept {
  try {
    Fd fresh(::open(state_path(path_).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (!fresh) return errno == ENOENT ? Errc::CLOSED : errc_from_errno(errno);
    struct stat a, b;
    if (::fstat(fresh.get(), &a) != 0 || ::fstat(state_fd_.get(), &b) != 0) {
      return errc_from_errno(errno);
    }
    if (a.st_ino != b.st_ino || a.st_dev != b.st_dev) return Errc::CLOSED;
    if (::flock(fresh.get(), LOCK_SH) != 0) return errc_from_errno(errno);
    // The inherited description's role locks are the parent's: count ourselves.
    if (Errc e = take_roles(fresh.get()); e != Errc::ok) return e;
    state_fd_ = std::move(fresh);
    pid_ = uint32_t(::getpid());
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

// ---- sending ----

Errc FifoTransport::send(const iovec *iov, size_t iovcnt, const Deadline &d) noexcept {
  return send_msg(iov, iovcnt, nullptr, d);
}

Errc FifoTransport::send_enveloped(const Envelope &env, const iovec *iov, size_t iovcnt,
                                   const Deadline &d) noexcept {
  if (flags_ & kLines) return Errc::INVAL;  // a line has no room for an envelope
  return send_msg(iov, iovcnt, &env, d);
}

Errc FifoTransport::send_msg(const iovec *iov, size_t iovcnt, const Envelope *env,
                             const Deadline &d) noexcept {
  if ((flags_ & kWrite) == 0) return Errc::BADF;
  if (iovcnt > 0 && iov == nullptr) return Errc::INVAL;
  if (Errc e = check_fork(); e != Errc::ok) return e;
  StateHeader *h = map_.hdr();
  if (h->removed.load()) return Errc::CLOSED;
  uint64_t total = 0;
  for (size_t i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len > 0 && iov[i].iov_base == nullptr) return Errc::INVAL;
    if (iov[i].iov_len > UINT64_MAX - total) return Errc::MSGSIZE;
    total += iov[i].iov_len;
  }
  if (flags_ & kLines) return send_line(iov, iovcnt, total, d);
  if (total > h->limits.max_msg) return Errc::MSGSIZE;
  uint8_t env_buf[Envelope::kMaxSize];
  const size_t env_len = env ? env->size() : 0;
  if (env) env->encode(env_buf);
  if (Errc e = reserve(total, d); e != Errc::ok) return e;
  // Counted with the room, before the frame exists: a receiver can then
  // never finish a message that is not yet counted.
  add_unfinished(*h);
  Errc e;
  SlotRef slot;
  if (env_len + total <= kMaxInline) {
    e = write_frame(iov, iovcnt, size_t(total), env_buf, env_len, d);
  } else if (slots_.put(pid_, iov, iovcnt, size_t(total), slot)) {
    uint8_t ref[kSlotRefSize];
    encode_slot_ref(ref, slot);
    e = send_ref(FrameKind::slot_ref, ref, sizeof ref, env_buf, env_len, d);
    if (e != Errc::ok) slots_.unput(slot);
  } else {
    ShmRef written{total, pid_, seq_.fetch_add(1, std::memory_order_relaxed)};
    e = payloads_.write(pid_, written.seq, iov, iovcnt, total);
    if (e == Errc::ok) {
      uint8_t ref[kShmRefSize];
      encode_shm_ref(ref, written);
      e = send_ref(FrameKind::shm_ref, ref, sizeof ref, env_buf, env_len, d);
      if (e != Errc::ok) payloads_.remove(pid_, written.seq);
    }
  }
  if (e != Errc::ok) {
    release(total);
    finish_one(*h);  // nothing was sent
    return e;
  }
  h->sent.fetch_add(1, std::memory_order_relaxed);
  return Errc::ok;
}

namespace {

// Copies the iovecs into `out`, which has room for `total` bytes.
void gather(const iovec *iov, size_t iovcnt, uint8_t *out) noexcept {
  for (size_t i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len == 0) continue;
    std::memcpy(out, iov[i].iov_base, iov[i].iov_len);
    out += iov[i].iov_len;
  }
}

}  // namespace

// One writev of at most PIPE_BUF bytes: all of it enters the pipe or none.
static Errc write_atomic(int fd, const std::atomic<uint32_t> &removed, const iovec *v, int cnt,
                         size_t total, const Deadline &d) noexcept {
  for (;;) {
    const ssize_t n = ::writev(fd, v, cnt);
    if (n >= 0) return size_t(n) == total ? Errc::ok : Errc::INTERNAL;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errc_from_errno(errno);
    pollfd p{fd, POLLOUT, 0};
    if (Errc e = wait_fds(&p, 1, d); e != Errc::ok) return e;
    if (removed.load()) return Errc::CLOSED;
  }
}

Errc FifoTransport::send_line(const iovec *iov, size_t iovcnt, size_t total,
                              const Deadline &d) noexcept {
  if (total > kPipeBuf - 1) return Errc::MSGSIZE;
  uint8_t buf[kPipeBuf];
  gather(iov, iovcnt, buf);
  if (!is_line_text(buf, total)) return Errc::INVAL;
  buf[total] = '\n';
  const iovec v{buf, total + 1};
  const Errc e = write_atomic(fifo_.get(), map_.hdr()->removed, &v, 1, total + 1, d);
  if (e == Errc::ok) map_.hdr()->sent.fetch_add(1, std::memory_order_relaxed);
  return e;
}

// One frame: the header, the envelope if any, then the payload's iovecs.
Errc FifoTransport::write_frame(const iovec *iov, size_t iovcnt, size_t total, const uint8_t *env,
                                size_t env_len, const Deadline &d) noexcept {
  uint8_t header[kHeaderSize];
  uint8_t joined[kMaxInline];
  iovec v[66];
  size_t cnt = 1;
  uint32_t crc = 0;
  if (env_len > 0) {
    crc = crc32c(crc, env, env_len);
    v[cnt++] = iovec{const_cast<uint8_t *>(env), env_len};
  }
  if (iovcnt < 64) {
    for (size_t i = 0; i < iovcnt; ++i) {
      if (iov[i].iov_len == 0) continue;
      crc = crc32c(crc, iov[i].iov_base, iov[i].iov_len);
      v[cnt++] = iov[i];
    }
  } else {
    gather(iov, iovcnt, joined);
    crc = crc32c(crc, joined, total);
    v[cnt++] = iovec{joined, total};
  }
  const uint8_t flags = kFlagCounted | (env_len > 0 ? kFlagEnvelope : 0);
  encode_header(header, FrameKind::inline_msg, flags, uint32_t(env_len + total), crc);
  v[0] = iovec{header, kHeaderSize};
  return emit(v, int(cnt), kHeaderSize + env_len + total, d);
}

// A frame that points at a payload kept elsewhere (a slot or a file).
Errc FifoTransport::send_ref(FrameKind kind, const uint8_t *ref, size_t ref_len, const uint8_t *env,
                             size_t env_len, const Deadline &d) noexcept {
  uint8_t frame[kHeaderSize + Envelope::kMaxSize + kShmRefSize];
  if (env_len > 0) std::memcpy(frame + kHeaderSize, env, env_len);
  std::memcpy(frame + kHeaderSize + env_len, ref, ref_len);
  const size_t body = env_len + ref_len;
  const uint8_t flags = kFlagCounted | (env_len > 0 ? kFlagEnvelope : 0);
  encode_header(frame, kind, flags, uint32_t(body), crc32c(0, frame + kHeaderSize, body));
  const iovec v{frame, kHeaderSize + body};
  return emit(&v, 1, kHeaderSize + body, d);
}

Errc FifoTransport::emit(const iovec *v, int cnt, size_t total, const Deadline &d) noexcept {
  if (flags_ & kDurable) {
    uint8_t frame[kPipeBuf];
    gather(v, size_t(cnt), frame);
    if (append_staged(frame, total)) {
      if (map_.hdr()->rx_waiters.load() > 0) ring_bell();  // not in the pipe: wake them
      return Errc::ok;
    }
  }
  return write_atomic(fifo_.get(), map_.hdr()->removed, v, cnt, total, d);
}

// Appends a frame behind what is staged. Staging is in the state file, so
// the frame outlives every process; the pipe only lives while someone holds
// it. False when staging cannot take it: it ends inside a token or is
// recovering from a lost read, or the room a last holder's drain needs (a
// full pipe) would be gone.
bool FifoTransport::append_staged(const uint8_t *frame, size_t len) noexcept {
  RxLock lock(*this);
  if (lock.err() != Errc::ok) return false;
  StateHeader *h = map_.hdr();
  if (h->resync != 0 || h->pending_read.load() != 0) return false;
  const uint64_t keep_free = h->limits.pipe_size + 64 * 1024;
  if (h->staging_cap - cursor_tail(h->cursor.load()) < keep_free + len) compact_locked();
  const uint64_t c = h->cursor.load();
  const uint32_t head = cursor_head(c), tail = cursor_tail(c);
  if (h->staging_cap - tail < keep_free + len) return false;
  bool clean = true;
  uint32_t resync = 0;
  for (uint32_t at = head; at < tail && clean;) {
    const Token t = next_token(map_.staging() + at, tail - at, resync);
    clean = t.kind != Token::need_more;
    at += uint32_t(t.size);
  }
  if (!clean) return false;  // a frame read in part: ours would land inside it
  std::memcpy(map_.staging() + tail, frame, len);
  h->cursor.store(make_cursor(head, tail + len));  // one store publishes it
  return true;
}

// Takes room for `msgs` messages of `len` bytes, waiting on the room futex
// while the queue is full.
Errc FifoTransport::reserve(uint64_t len, const Deadline &d, uint64_t msgs) noexcept {
  StateHeader *h = map_.hdr();
  const Limits &l = h->limits;
  auto try_reserve = [&] {
    uint64_t w = h->queued.load();
    for (;;) {
      const uint64_t m = Room::msgs(w) + msgs, b = Room::bytes(w) + len;
      if (m > l.room_msgs || b > l.room_bytes) return false;
      if (h->queued.compare_exchange_weak(w, Room::pack(m, b))) return true;
    }
  };
  for (;;) {
    if (try_reserve()) return Errc::ok;
    if (h->removed.load()) return Errc::CLOSED;
    if (d.is_poll() || d.expired()) return expired(d);
    // Count ourselves before the last look, so a release after it wakes us.
    h->room_waiters.fetch_add(1);
    const uint32_t seq = h->room_seq.load();
    const bool got = try_reserve();
    const Errc e = got ? Errc::ok : futex_wait(h->room_seq, seq, d);
    h->room_waiters.fetch_sub(1);
    if (got) return Errc::ok;
    if (e != Errc::ok) return e == Errc::TIMEDOUT ? expired(d) : e;
  }
}

void FifoTransport::release(uint64_t len, uint64_t msgs) noexcept {
  StateHeader *h = map_.hdr();
  uint64_t w = h->queued.load();
  for (;;) {
    // Saturate: a recount by a first holder may already have forgotten this message.
    const uint64_t m = Room::msgs(w) > msgs ? Room::msgs(w) - msgs : 0;
    const uint64_t b = Room::bytes(w) > len ? Room::bytes(w) - len : 0;
    if (h->queued.compare_exchange_weak(w, Room::pack(m, b))) break;
  }
  // Wake waiting senders only below a low-water mark: waking them all on
  // every release of a full queue costs a system call per message and a
  // herd of senders that find it full again.
  if (h->room_waiters.load() > 0) {
    const uint64_t now = h->queued.load();
    const Limits &l = h->limits;
    if (Room::msgs(now) <= l.room_msgs - l.room_msgs / 8 &&
        Room::bytes(now) <= l.room_bytes - l.room_bytes / 8) {
      h->room_seq.fetch_add(1);
      futex_wake_all(h->room_seq);
    }
  }
}

// Consecutive small messages share one write of up to PIPE_BUF bytes: all of
// it enters the pipe or none, so every frame in it stays whole. Larger ones
// go alone, through send_msg.
Errc FifoTransport::send_many(const iovec *msgs, size_t count, size_t &sent,
                              const Deadline &d) noexcept {
  sent = 0;
  if ((flags_ & (kWrite | kLines | kDurable)) != kWrite)
    return Transport::send_many(msgs, count, sent, d);
  if (Errc e = check_fork(); e != Errc::ok) return e;
  StateHeader *h = map_.hdr();
  while (sent < count) {
    const iovec &m = msgs[sent];
    if (m.iov_len > 0 && m.iov_base == nullptr) return Errc::INVAL;
    if (m.iov_len > kMaxInline || m.iov_len > h->limits.max_msg) {
      if (Errc e = send_msg(&m, 1, nullptr, d); e != Errc::ok) return e;
      ++sent;
      continue;
    }
    uint8_t frames[kPipeBuf];
    size_t len = 0;
    const size_t n = pack_frames(msgs + sent, count - sent, frames, len);
    const uint64_t payload = len - n * kHeaderSize;
    if (h->removed.load()) return Errc::CLOSED;
    if (Errc e = reserve(payload, d, n); e != Errc::ok) return e;
    add_unfinished(*h, n);  // before the frames exist, as in send_msg
    const iovec v{frames, len};
    if (Errc e = write_atomic(fifo_.get(), h->removed, &v, 1, len, d); e != Errc::ok) {
      release(payload, n);
      for (size_t i = 0; i < n; ++i) finish_one(*h);  // nothing was sent
      return e;
    }
    h->sent.fetch_add(n, std::memory_order_relaxed);
    sent += n;
  }
  return Errc::ok;
}

size_t FifoTransport::pack_frames(const iovec *msgs, size_t count, uint8_t *out,
                                  size_t &len) const noexcept {
  const Limits &l = map_.hdr()->limits;
  size_t n = 0, payload = 0;
  len = 0;
  for (; n < count; ++n) {
    const size_t size = msgs[n].iov_len;
    if (size > kMaxInline || size > l.max_msg) break;               // sent alone
    if (n > 0 && (msgs[n].iov_base == nullptr && size > 0)) break;  // refused alone
    if (len + kHeaderSize + size > kPipeBuf) break;
    // A batch the room could never hold would wait forever: keep it within.
    if (n > 0 && (n + 1 > l.room_msgs || payload + size > l.room_bytes)) break;
    uint8_t *frame = out + len;
    if (size > 0) std::memcpy(frame + kHeaderSize, msgs[n].iov_base, size);
    encode_header(frame, FrameKind::inline_msg, kFlagCounted, uint32_t(size),
                  crc32c(0, frame + kHeaderSize, size));
    len += kHeaderSize + size;
    payload += size;
  }
  return n;
}

// ---- receiving ----

// Payload files from this size up are mapped into a received message rather
// than copied: below it, a copy costs less than mapping and unmapping. The
// same size as the pool's: a file mapped is a file named for the pool.
constexpr size_t kMapFrom = ShmPayloads::kPoolFrom;

Errc FifoTransport::Want::place(size_t n, uint8_t *&out, bool mappable) noexcept {
  len = n;
  if (msg != nullptr && mappable && n >= kMapFrom) {
    msg->data.reset();  // left by a message passed over before this one
    msg->len = n;
    out = nullptr;  // mapped once the payload file is claimed
    return Errc::ok;
  }
  if (msg == nullptr) {
    if (cap < n) return Errc::TOOSMALL;
    out = static_cast<uint8_t *>(buf);
    return Errc::ok;
  }
  if (!msg->data || msg->len < n) {
    msg->data.reset(new (std::nothrow) uint8_t[n > 0 ? n : 1]);
    if (!msg->data) return Errc::NOMEM;
  }
  msg->len = n;
  out = msg->data.get();
  return Errc::ok;
}

Errc FifoTransport::recv(void *buf, size_t cap, size_t *len, bool peek,
                         const Deadline &d) noexcept {
  if (cap > 0 && buf == nullptr) return Errc::INVAL;
  Want w;
  w.buf = buf;
  w.cap = cap;
  w.peek = peek;
  const Errc e = receive_any(w, d);
  if (e == Errc::ok || e == Errc::TOOSMALL) *len = w.len;
  return e;
}

// The first message as recv() takes it; then, under one hold of rx_mutex,
// the small messages staging holds or one more read of the pipe brings.
Errc FifoTransport::recv_many(void *buf, size_t cap, size_t *lens, size_t max, size_t &count,
                              const Deadline &d) noexcept {
  count = 0;
  if (Errc e = recv(buf, cap, &lens[0], false, d); e != Errc::ok) return e;
  count = 1;
  size_t used = lens[0];
  bool wake_others = false;
  {
    RxLock lock(*this);
    if (lock.err() != Errc::ok) return Errc::ok;  // the first is received
    for (; count < max; ++count) {
      Want w;
      w.buf = static_cast<uint8_t *>(buf) + used;
      w.cap = cap - used;
      w.inline_only = true;
      Taken t;
      // A read only if the last one did not empty the pipe: most would say EAGAIN.
      if (take_locked(w, !map_.hdr()->drained, t) != Errc::ok) break;
      lens[count] = w.len;
      used += w.len;
    }
    const StateHeader *h = map_.hdr();
    const uint64_t c = h->cursor.load();
    wake_others = cursor_tail(c) > cursor_head(c) && h->rx_waiters.load() > 0;
  }
  if (wake_others) ring_bell();
  return Errc::ok;
}

Errc FifoTransport::receive(Received &out, int lease_ms, const Deadline &d) noexcept {
  out = Received();
  Want w;
  w.msg = &out;
  w.lease_ms = lease_ms;
  return receive_any(w, d);
}

Errc FifoTransport::receive_any(Want &w, const Deadline &d) noexcept {
  if ((flags_ & kRead) == 0) return Errc::BADF;
  if (Errc e = check_fork(); e != Errc::ok) return e;
  StateHeader *h = map_.hdr();
  bool woken = false;
  for (;;) {
    if (h->removed.load()) return Errc::CLOSED;
    // Messages due for a retry, or whose lease ran out, go first.
    if (Errc e = take_held(w); e != Errc::AGAIN) return e;
    Taken t;
    Errc e;
    bool wake_others = false, waiting = false;
    {
      RxLock lock(*this);
      if (lock.err() != Errc::ok) return lock.err();
      // If the last read emptied the pipe, a read now would most likely only
      // say EAGAIN: go to ppoll first, which returns at once if data came.
      e = take_locked(w, woken || d.is_poll() || !h->drained, t);
      if (e == Errc::AGAIN) {
        if (!d.is_poll()) {
          h->rx_waiters.fetch_add(1);
          waiting = true;
        }
      } else {
        // Bytes left in staging do not wake sleepers in ppoll on the pipe.
        const uint64_t c = h->cursor.load();
        wake_others = cursor_tail(c) > cursor_head(c) && h->rx_waiters.load() > 0;
      }
    }
    if (wake_others) ring_bell();
    uint8_t *dest = w.msg ? w.msg->data.get() : static_cast<uint8_t *>(w.buf);
    if (e == Errc::ok && t.in_slot) {
      slots_.take(t.slot, dest);
      return Errc::ok;
    }
    // A payload file is copied into dest, or mapped when place() left none;
    // if mapping fails (address space, map count), it is copied after all.
    auto copy_out = [&](const Fd &fd) {
      if (!dest) {
        w.msg->data.reset(new (std::nothrow) uint8_t[w.len]);
        dest = w.msg->data.get();
        if (!dest) return Errc::NOMEM;
      }
      return ShmPayloads::copy(fd, w.len, dest);
    };
    if (e == Errc::ok && t.held_file) {
      Fd fd;
      e = payloads_.open(HeldTable::kFilePid, HeldTable::file_seq(t.held.index, t.held.gen), fd);
      if (e == Errc::ok && (dest || w.msg->view.map(fd.get(), w.len) != Errc::ok)) e = copy_out(fd);
      if (e != Errc::ok) {  // held, not delivered: the lease brings it back
        w.msg->leased = false;
        return e;
      }
      return Errc::ok;
    }
    if (e == Errc::ok && t.payload) {
      if (dest || w.msg->view.map(std::move(t.payload), w.len) != Errc::ok) {
        e = copy_out(t.payload.fd());
      }
      if (e != Errc::ok) {  // taken from the queue, not delivered: nobody can finish it
        h->dropped.fetch_add(1);
        finish_one(*h);
      }
      return e;
    }
    if (e != Errc::AGAIN) return e;
    if (!waiting) return Errc::AGAIN;
    pollfd fds[2] = {{fifo_.get(), POLLIN, 0}, {bell_.get(), POLLIN, 0}};
    e = wait_fds(fds, 2, d.capped(held_.wake_at()));
    h->rx_waiters.fetch_sub(1);
    if (fds[1].revents & POLLIN) drain_bell();
    if (e == Errc::TIMEDOUT && !d.expired()) e = Errc::ok;  // something held is due
    if (e != Errc::ok) return e;
    woken = true;
  }
}

// Hands out a held message that is due. AGAIN when there is none.
Errc FifoTransport::take_held(Want &w) noexcept {
  const bool lease = w.lease_ms >= 0;
  for (;;) {
    HeldRef r;
    uint64_t plen = 0;
    const uint64_t max_len = w.msg ? UINT64_MAX : w.cap;
    Errc e = held_.take_due(w.lease_ms, max_len, w.peek, r, plen);
    if (e == Errc::TOOSMALL || (e == Errc::ok && w.peek)) w.len = size_t(plen);
    if (e != Errc::ok || w.peek) return e;
    uint8_t *dest = nullptr;
    e = w.place(size_t(plen), dest);
    Envelope scratch;
    if (e == Errc::ok) e = held_.read(r, w.msg ? w.msg->env : scratch, dest);
    if (e == Errc::ok && lease) {
      w.msg->leased = true;
      w.msg->lease = r.pack();
    } else {
      // A plain receive takes it for good; so does one whose payload is gone.
      held_.release(r);
    }
    if (e == Errc::NOENT) {
      map_.hdr()->dropped.fetch_add(1);
      continue;
    }
    if (e == Errc::ok) map_.hdr()->received.fetch_add(1, std::memory_order_relaxed);
    return e;
  }
}

Errc FifoTransport::take_locked(Want &w, bool may_read, Taken &t) noexcept {
  StateHeader *h = map_.hdr();
  const uint8_t *s = map_.staging();
  for (;;) {
    const uint64_t c = h->cursor.load(std::memory_order_relaxed);
    const uint32_t head = cursor_head(c), tail = cursor_tail(c);
    const Token tk = next_token(s + head, tail - head, h->resync);
    const uint64_t next = head + tk.size == tail ? 0 : make_cursor(head + tk.size, tail);
    if (tk.kind == Token::need_more) {
      if (!may_read || !fill_locked(w.lease_ms >= 0)) return Errc::AGAIN;
      continue;
    }
    if (tk.kind == Token::garbage) {
      h->garbage_bytes.fetch_add(tk.size, std::memory_order_relaxed);
      h->cursor.store(next);
      continue;
    }
    // Passes over a message whose payload is gone: counted, its room freed.
    auto drop = [&] {
      h->dropped.fetch_add(1);
      h->cursor.store(next);
      if (tk.counted) {
        release(tk.msg_len);
        finish_one(*h);  // nobody can process it now
      }
    };
    if (tk.kind == Token::shm_ref && tk.msg_len > h->limits.max_msg) {
      payloads_.remove(tk.ref.pid, tk.ref.seq);  // no sender of this queue made it
      drop();
      continue;
    }
    if (w.peek) {
      w.len = tk.msg_len;
      return Errc::ok;
    }
    if (w.inline_only && tk.kind != Token::inline_msg && tk.kind != Token::line) {
      return Errc::AGAIN;
    }
    uint8_t *dest = nullptr;
    if (Errc e = w.place(tk.msg_len, dest, tk.kind == Token::shm_ref); e != Errc::ok) return e;
    if (w.msg) {
      Envelope &env = w.msg->env;
      size_t used = 0;
      if (tk.env_len > 0 && !env.decode(s + head + tk.env_off, tk.env_len, &used)) {
        drop();  // a frame whose checksum holds but whose envelope does not parse
        continue;
      }
      env.attempts += 1;  // this delivery
    }
    if (w.lease_ms >= 0) {
      const Errc e = lease_locked(w, tk, s + head, t);
      if (e == Errc::NOENT) {
        drop();
        continue;
      }
      if (e != Errc::ok) return e;
    } else if (tk.kind == Token::slot_ref) {
      // Claimed before the cursor moves, as payload files are below.
      if (!slots_.claim(tk.slot, pid_)) {  // its claimer died, or no arena here
        drop();
        continue;
      }
      t.in_slot = true;
      t.slot = tk.slot;
    } else if (tk.kind == Token::shm_ref) {
      // Claimed before the cursor moves: a holder killed in between leaves
      // the reference for the next one, or (if the name was already removed)
      // a message counted as dropped, never an orphaned file.
      uint64_t seq = seq_.fetch_add(1, std::memory_order_relaxed);
      const Errc e = payloads_.claim(tk.ref, pid_, seq, t.payload);
      if (e == Errc::NOENT) {  // gone (a reboot, a sweep, a killed holder): drop it, go on
        drop();
        continue;
      }
      if (e != Errc::ok) return e;
    } else if (tk.msg_len > 0) {
      std::memcpy(dest, s + head + tk.msg_off, tk.msg_len);
    }
    h->cursor.store(next);
    if (tk.counted) release(tk.msg_len);
    h->received.fetch_add(1, std::memory_order_relaxed);
    return Errc::ok;
  }
}

// A leased receive, under rx_mutex: the message enters the held table before
// the cursor moves past it, so a receiver killed in between leaves it twice
// (held and staged), never nowhere. NOENT: its payload is gone.
Errc FifoTransport::lease_locked(Want &w, const Token &tk, const uint8_t *staged,
                                 Taken &t) noexcept {
  Received &m = *w.msg;
  if (m.env.enqueued_ms == 0) m.env.enqueued_ms = wall_ms();  // now in fq's care
  HeldRef r;
  if (Errc e = held_.reserve(r); e != Errc::ok) return e;
  Errc e = Errc::ok;
  uint8_t *dest = m.data.get();
  if (tk.kind == Token::slot_ref) {
    // Not claimed yet: only receivers under rx_mutex claim, so it stays
    // READY, and a receiver killed before the entry is published leaves it
    // for the next one.
    if (!slots_.ready(tk.slot)) {
      e = Errc::NOENT;
    } else {
      slots_.read(tk.slot, dest);
      const iovec v{dest, tk.msg_len};
      e = held_.fill(r, m.env, &v, 1, tk.msg_len);
    }
  } else if (tk.kind == Token::shm_ref) {
    e = held_.fill_from_file(r, m.env, tk.ref);
    t.held_file = e == Errc::ok;
    t.held = r;
  } else {
    const iovec v{const_cast<uint8_t *>(staged + tk.msg_off), tk.msg_len};
    if (tk.msg_len > 0) std::memcpy(dest, staged + tk.msg_off, tk.msg_len);
    e = held_.fill(r, m.env, &v, 1, tk.msg_len);
  }
  if (e != Errc::ok) {
    held_.release(r);
    return e;
  }
  held_.publish(r, kHeldLeased, Deadline::now_ns() + int64_t(w.lease_ms) * 1000000);
  // Held now, so the old home can go before the cursor moves: a receiver
  // killed in between leaves a reference that no longer matches (dropped
  // and counted; the held copy is delivered).
  if (tk.kind == Token::slot_ref && slots_.claim(tk.slot, pid_)) slots_.unput(tk.slot);
  if (tk.kind == Token::shm_ref) payloads_.remove(tk.ref.pid, tk.ref.seq);
  m.leased = true;
  m.lease = r.pack();
  return Errc::ok;
}

// Reads what the pipe has into staging. False when it had nothing.
// With `keep_all` (a leased receive: nothing may be lost), it first asks how
// much the pipe holds and reads exactly that into zeroed space, recording the
// length: a reader killed inside read() then leaves the bytes in staging, and
// the next locker adopts them instead of losing them. One more system call.
bool FifoTransport::fill_locked(bool keep_all) noexcept {
  StateHeader *h = map_.hdr();
  const uint64_t cap = h->staging_cap;
  if (cap - cursor_tail(h->cursor.load()) < kPipeBuf) compact_locked();
  const uint64_t c = h->cursor.load();
  const uint32_t head = cursor_head(c), tail = cursor_tail(c);
  if (tail == cap) {
    // Full without one complete token: a line longer than staging. Drop it.
    h->garbage_bytes.fetch_add(tail - head);
    h->cursor.store(0);
    h->resync = kResyncStart;  // its rest is still in the pipe
    return true;
  }
  uint64_t want = cap - tail;
  if (keep_all) {
    int avail = 0;
    if (::ioctl(fifo_.get(), FIONREAD, &avail) != 0 || avail <= 0) {
      h->drained = 1;
      return false;
    }
    if (uint64_t(avail) < want) want = uint64_t(avail);
    // Zeroed, so a read cut short (a fault under a fatal signal) leaves
    // garbage that is skipped, never stale frames that look new.
    std::memset(map_.staging() + tail, 0, want);
    h->pending_len.store(want);
  }
  h->pending_read.store(tail + 1);
  const ssize_t n = ::read(fifo_.get(), map_.staging() + tail, want);
  if (n > 0) h->cursor.store(make_cursor(head, tail + uint64_t(n)));
  h->pending_read.store(0);
  h->pending_len.store(0);
  h->drained = n < ssize_t(cap - tail);
  return n > 0;
}

// Moves the staged bytes to the front. Marked, so a holder killed halfway
// leaves staging flagged as untrustworthy rather than silently scrambled.
bool FifoTransport::compact_locked() noexcept {
  StateHeader *h = map_.hdr();
  const uint64_t c = h->cursor.load();
  const uint32_t head = cursor_head(c), tail = cursor_tail(c);
  if (head == 0) return false;
  h->moving.store(1);
  std::memmove(map_.staging(), map_.staging() + head, tail - head);
  h->cursor.store(make_cursor(0, tail - head));
  h->moving.store(0);
  return true;
}

void FifoTransport::drain_locked() noexcept {
  StateHeader *h = map_.hdr();
  for (;;) {
    if (h->staging_cap - cursor_tail(h->cursor.load()) < kPipeBuf && !compact_locked()) break;
    const uint64_t c = h->cursor.load();
    const uint32_t head = cursor_head(c), tail = cursor_tail(c);
    h->pending_read.store(tail + 1);
    const ssize_t n = ::read(fifo_.get(), map_.staging() + tail, h->staging_cap - tail);
    if (n > 0) h->cursor.store(make_cursor(head, tail + uint64_t(n)));
    h->pending_read.store(0);
    if (n <= 0) break;
  }
  // Staging is sized for a full pipe on top of what a read can leave behind,
  // so the pipe is empty here unless someone outside fq enlarged it.
}

void FifoTransport::ring_bell() noexcept {
  const char b = 1;
  (void)!::write(bell_.get(), &b, 1);  // EAGAIN: the bell is full, so ringing anyway
}

void FifoTransport::drain_bell() noexcept {
  char buf[64];
  while (::read(bell_.get(), buf, sizeof buf) == ssize_t(sizeof buf)) {
  }
}

template <class F>
void FifoTransport::for_each_staged(F &&f) noexcept {
  const StateHeader *h = map_.hdr();
  const uint64_t c = h->cursor.load();
  uint32_t resync = h->resync;
  for (uint32_t head = cursor_head(c), tail = cursor_tail(c); head < tail;) {
    const Token t = next_token(map_.staging() + head, tail - head, resync);
    if (t.kind == Token::need_more) break;
    f(t);
    head += uint32_t(t.size);
  }
}

Errc FifoTransport::stats(Stats &out) noexcept {
  const StateHeader *h = map_.hdr();
  const uint64_t q = h->queued.load();
  out.queued_msgs = Room::msgs(q);
  out.queued_bytes = Room::bytes(q);
  out.sent = h->sent.load();
  out.received = h->received.load();
  out.garbage_bytes = h->garbage_bytes.load();
  out.dropped = h->dropped.load();
  out.lost_reads = h->lost_reads.load();
  out.max_msg = h->limits.max_msg;
  out.room_msgs = h->limits.room_msgs;
  out.room_bytes = h->limits.room_bytes;
  out.held = held_.count();
  out.leased = h->held_leased.load();
  out.retried = h->retried.load();
  out.dead_lettered = h->dead_lettered.load();
  out.redelivered = h->redelivered.load();
  const int ps = ::fcntl(fifo_.get(), F_GETPIPE_SZ);
  out.pipe_size = ps > 0 ? uint64_t(ps) : 0;
  out.unfinished = h->unfinished.load();
  Attached a;
  if (Errc e = count_roles(state_fd_.get(), a); e != Errc::ok) return e;
  out.senders = a.senders;
  out.receivers = a.receivers;
  return Errc::ok;
}

// ---- settling received messages ----

Errc FifoTransport::ack(Received &m) noexcept {
  if (!m.leased) return Errc::ok;  // nothing is held for a plain receive
  if (Errc e = check_fork(); e != Errc::ok) return e;
  m.leased = false;
  return held_.release(HeldRef::unpack(m.lease)) ? Errc::ok : Errc::LEASELOST;
}

Errc FifoTransport::abandon(Received &m) noexcept {
  if (!m.leased) return Errc::ok;
  if (Errc e = check_fork(); e != Errc::ok) return e;
  m.leased = false;
  const Errc e = held_.requeue(HeldRef::unpack(m.lease), m.env, Deadline::now_ns());
  if (e == Errc::ok) ring_bell();
  return e;
}

Errc FifoTransport::retry(Received &m, const std::string &reason, int64_t delay_ms) noexcept {
  if (delay_ms < 0) return Errc::INVAL;
  if (Errc e = check_fork(); e != Errc::ok) return e;
  try {
    Envelope env = m.env;
    const int64_t now = wall_ms();
    env.record_retry(reason, now, delay_ms);
    const int64_t due = Deadline::now_ns() + delay_ms * 1000000;
    Errc e;
    if (m.leased) {
      e = held_.requeue(HeldRef::unpack(m.lease), env, due);
      if (e == Errc::ok || e == Errc::LEASELOST) m.leased = false;
    } else {
      e = hold_waiting(m, env, due);
    }
    if (e != Errc::ok) return e;
    m.env = std::move(env);
    map_.hdr()->retried.fetch_add(1, std::memory_order_relaxed);
    // Sleeping receivers bounded their sleep by the old earliest due time.
    if (map_.hdr()->rx_waiters.load() > 0) ring_bell();
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

// A message received without a lease, held anew to wait for its retry.
Errc FifoTransport::hold_waiting(Received &m, const Envelope &env, int64_t due_ns) noexcept {
  HeldRef r;
  if (Errc e = held_.reserve(r); e != Errc::ok) return e;
  const iovec v{m.bytes(), m.len};
  if (Errc e = held_.fill(r, env, &v, 1, m.len); e != Errc::ok) {
    held_.release(r);
    return e;
  }
  held_.publish(r, kHeldWaiting, due_ns);
  return Errc::ok;
}

Errc FifoTransport::dead_letter(Received &m, const std::string &reason, bool permanent) noexcept {
  if (Errc e = check_fork(); e != Errc::ok) return e;
  try {
    Envelope env = m.env;
    const int64_t now = wall_ms();
    // Absolute, so a redrive from any directory finds the way back.
    std::string origin = path_;
    if (char *abs = ::realpath(path_.c_str(), nullptr)) {
      origin = abs;
      std::free(abs);
    }
    env.record_death(reason, std::move(origin), permanent, now);
    // Opened for each dead letter and closed after it: if nobody else holds
    // the dead-letter queue, the close keeps the message in its state file.
    struct stat st;
    if (::fstat(fifo_.get(), &st) != 0) return errc_from_errno(errno);
    OpenOptions o;
    o.mode = st.st_mode & 0777;
    std::unique_ptr<Transport> dlq;
    if (Errc e = FifoTransport::open(dead_letter_path(path_), kWrite | kCreate | kDurable, o, dlq);
        e != Errc::ok) {
      return e;
    }
    // The log first: once the message is in the queue it may be consumed.
    if (Errc e = dead_log_append(dead_log_path(path_), st.st_mode & 0666, env, m.bytes(), m.len);
        e != Errc::ok) {
      return e;
    }
    const iovec v{m.bytes(), m.len};
    // Not waiting: a full dead-letter queue is the caller's to handle; the
    // message stays held meanwhile.
    if (Errc e = dlq->send_enveloped(env, &v, 1, Deadline::after_ms(0)); e != Errc::ok) return e;
    map_.hdr()->dead_lettered.fetch_add(1, std::memory_order_relaxed);
    m.env = std::move(env);
    if (!m.leased) return Errc::ok;
    m.leased = false;
    // Lost: it went to the dead-letter queue and will come round once more.
    return held_.release(HeldRef::unpack(m.lease)) ? Errc::ok : Errc::LEASELOST;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc FifoTransport::policy(Policy &out) noexcept {
  out = held_.policy();
  return Errc::ok;
}

Errc FifoTransport::set_policy(const Policy &p) noexcept {
  if (p.max_attempts == 0 || !(p.backoff_factor >= 1.0) || p.jitter_pct > 100) return Errc::INVAL;
  held_.set_policy(p);
  return Errc::ok;
}

// ---- joinable queue ----

Errc FifoTransport::task_done() noexcept {
  if (Errc e = check_fork(); e != Errc::ok) return e;
  return finish_one(*map_.hdr());
}

Errc FifoTransport::join(const Deadline &d) noexcept {
  if (Errc e = check_fork(); e != Errc::ok) return e;
  return fq::join(*map_.hdr(), d);
}

// ---- removal ----

Errc FifoTransport::unlink(const std::string &path) noexcept {
  try {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && !S_ISFIFO(st.st_mode)) {
      return S_ISLNK(st.st_mode) ? Errc::SYMLINK : Errc::NOTFIFO;
    }
    // Tell the holders first: waiters wake on the bell or the room futex.
    if (Fd sfd(::open(state_path(path).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC)); sfd) {
      StateMap m;
      if (m.attach(sfd.get()) == Errc::ok) {
        StateHeader *h = m.hdr();
        h->removed.store(1);
        h->room_seq.fetch_add(1);
        futex_wake_all(h->room_seq);
        wake_joiners(*h);
        ShmPayloads(h->token, 0600).sweep({});
        ::unlink(SlotArena::path(h->token).c_str());
      }
    }
    if (Fd b(::open(bell_path(path).c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)); b) {
      const char one = 1;
      (void)!::write(b.get(), &one, 1);
    }
    bool any = false;
    for (const std::string &p : {path, bell_path(path), state_path(path)}) {
      if (::unlink(p.c_str()) == 0) {
        any = true;
      } else if (errno != ENOENT) {
        return errc_from_errno(errno);
      }
    }
    return any ? Errc::ok : Errc::NOENT;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

}  // namespace fq
