#include "fifo_transport.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <set>

#include "crc32c.hpp"
#include "frame.hpp"
#include "futex.hpp"
#include "joinable.hpp"
#include "role_locks.hpp"

namespace fq {

std::string state_path(const std::string &fifo) { return fifo + ".fq-state"; }
std::string bell_path(const std::string &fifo) { return fifo + ".fq-bell"; }

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
  if ((flags & ~kAllFlags) != 0 || (flags & (kRead | kWrite)) == 0) return Errc::INVAL;
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
    if (lock.err() == Errc::ok) drain_locked();
  }
  ::flock(state_fd_.get(), LOCK_UN);
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
    // took from the pipe are gone and the pipe may start mid-frame.
    if (pending - 1 == cursor_tail(h->cursor.load())) {
      h->resync = kResyncStart;
      h->lost_reads.fetch_add(1);
    }
    h->pending_read.store(0);
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
  if (Errc e = reserve(total, d); e != Errc::ok) return e;
  // Counted with the room, before the frame exists: a receiver can then
  // never finish a message that is not yet counted.
  add_unfinished(*h);
  Errc e;
  SlotRef slot;
  if (total <= kMaxInline) {
    e = write_frame(iov, iovcnt, size_t(total), d);
  } else if (slots_.put(pid_, iov, iovcnt, size_t(total), slot)) {
    e = send_slot(slot, d);
  } else {
    e = send_shm(iov, iovcnt, total, d);
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

Errc FifoTransport::write_frame(const iovec *iov, size_t iovcnt, size_t total,
                                const Deadline &d) noexcept {
  uint8_t header[kHeaderSize];
  uint8_t joined[kMaxInline];
  iovec v[65];
  size_t cnt = 1;
  if (iovcnt < 64) {
    uint32_t crc = 0;
    for (size_t i = 0; i < iovcnt; ++i) {
      if (iov[i].iov_len == 0) continue;
      crc = crc32c(crc, iov[i].iov_base, iov[i].iov_len);
      v[cnt++] = iov[i];
    }
    encode_header(header, FrameKind::inline_msg, kFlagCounted, uint32_t(total), crc);
  } else {
    gather(iov, iovcnt, joined);
    v[cnt++] = iovec{joined, total};
    encode_header(header, FrameKind::inline_msg, kFlagCounted, uint32_t(total),
                  crc32c(0, joined, total));
  }
  v[0] = iovec{header, kHeaderSize};
  return write_atomic(fifo_.get(), map_.hdr()->removed, v, int(cnt), kHeaderSize + total, d);
}

Errc FifoTransport::send_shm(const iovec *iov, size_t iovcnt, uint64_t total,
                             const Deadline &d) noexcept {
  uint64_t seq = seq_.fetch_add(1, std::memory_order_relaxed);
  if (Errc e = payloads_.write(pid_, seq, iov, iovcnt, total); e != Errc::ok) return e;
  uint8_t frame[kHeaderSize + kShmRefSize];
  encode_shm_ref(frame + kHeaderSize, ShmRef{total, pid_, seq});
  encode_header(frame, FrameKind::shm_ref, kFlagCounted, kShmRefSize,
                crc32c(0, frame + kHeaderSize, kShmRefSize));
  const iovec v{frame, sizeof frame};
  const Errc e = write_atomic(fifo_.get(), map_.hdr()->removed, &v, 1, sizeof frame, d);
  if (e != Errc::ok) payloads_.remove(pid_, seq);
  return e;
}

Errc FifoTransport::send_slot(const SlotRef &ref, const Deadline &d) noexcept {
  uint8_t frame[kHeaderSize + kSlotRefSize];
  encode_slot_ref(frame + kHeaderSize, ref);
  encode_header(frame, FrameKind::slot_ref, kFlagCounted, kSlotRefSize,
                crc32c(0, frame + kHeaderSize, kSlotRefSize));
  const iovec v{frame, sizeof frame};
  const Errc e = write_atomic(fifo_.get(), map_.hdr()->removed, &v, 1, sizeof frame, d);
  if (e != Errc::ok) slots_.unput(ref);
  return e;
}

// Takes room for one message of `len` bytes, waiting on the room futex while
// the queue is full.
Errc FifoTransport::reserve(uint64_t len, const Deadline &d) noexcept {
  StateHeader *h = map_.hdr();
  const Limits &l = h->limits;
  auto try_reserve = [&] {
    uint64_t w = h->queued.load();
    for (;;) {
      const uint64_t m = Room::msgs(w) + 1, b = Room::bytes(w) + len;
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

void FifoTransport::release(uint64_t len) noexcept {
  StateHeader *h = map_.hdr();
  uint64_t w = h->queued.load();
  for (;;) {
    // Saturate: a recount by a first holder may already have forgotten this message.
    const uint64_t m = Room::msgs(w) > 0 ? Room::msgs(w) - 1 : 0;
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

// ---- receiving ----

Errc FifoTransport::recv(void *buf, size_t cap, size_t *len, bool peek,
                         const Deadline &d) noexcept {
  if ((flags_ & kRead) == 0) return Errc::BADF;
  if (cap > 0 && buf == nullptr) return Errc::INVAL;
  if (Errc e = check_fork(); e != Errc::ok) return e;
  StateHeader *h = map_.hdr();
  bool woken = false;
  for (;;) {
    if (h->removed.load()) return Errc::CLOSED;
    Taken t;
    Errc e;
    bool wake_others = false, waiting = false;
    {
      RxLock lock(*this);
      if (lock.err() != Errc::ok) return lock.err();
      // If the last read emptied the pipe, a read now would most likely only
      // say EAGAIN: go to ppoll first, which returns at once if data came.
      e = take_locked(buf, cap, peek, woken || d.is_poll() || !h->drained, t);
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
    if (e == Errc::ok || e == Errc::TOOSMALL) *len = t.len;
    if (e == Errc::ok && t.in_slot) {
      slots_.take(t.slot, buf);
      return Errc::ok;
    }
    if (e == Errc::ok && t.payload) {
      e = ShmPayloads::copy(t.payload, t.len, buf);
      if (e != Errc::ok) h->dropped.fetch_add(1);  // taken from the queue, not delivered
      return e;
    }
    if (e != Errc::AGAIN) return e;
    if (!waiting) return Errc::AGAIN;
    pollfd fds[2] = {{fifo_.get(), POLLIN, 0}, {bell_.get(), POLLIN, 0}};
    e = wait_fds(fds, 2, d);
    h->rx_waiters.fetch_sub(1);
    if (fds[1].revents & POLLIN) drain_bell();
    if (e != Errc::ok) return e;
    woken = true;
  }
}

Errc FifoTransport::take_locked(void *buf, size_t cap, bool peek, bool may_read,
                                Taken &t) noexcept {
  StateHeader *h = map_.hdr();
  const uint8_t *s = map_.staging();
  for (;;) {
    const uint64_t c = h->cursor.load(std::memory_order_relaxed);
    const uint32_t head = cursor_head(c), tail = cursor_tail(c);
    const Token tk = next_token(s + head, tail - head, h->resync);
    const uint64_t next = head + tk.size == tail ? 0 : make_cursor(head + tk.size, tail);
    if (tk.kind == Token::need_more) {
      if (!may_read || !fill_locked()) return Errc::AGAIN;
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
    t.len = tk.msg_len;
    if (peek) return Errc::ok;
    if (cap < t.len) return Errc::TOOSMALL;
    if (tk.kind == Token::slot_ref) {
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
      const Errc e = payloads_.claim(tk.ref, t.payload);
      if (e == Errc::NOENT) {  // gone (a reboot, a sweep, a killed holder): drop it, go on
        drop();
        continue;
      }
      if (e != Errc::ok) return e;
    } else if (t.len > 0) {
      std::memcpy(buf, s + head + tk.msg_off, t.len);
    }
    h->cursor.store(next);
    if (tk.counted) release(t.len);
    h->received.fetch_add(1, std::memory_order_relaxed);
    return Errc::ok;
  }
}

// Reads what the pipe has into staging. False when it had nothing.
bool FifoTransport::fill_locked() noexcept {
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
  h->pending_read.store(tail + 1);
  const ssize_t n = ::read(fifo_.get(), map_.staging() + tail, cap - tail);
  if (n > 0) h->cursor.store(make_cursor(head, tail + uint64_t(n)));
  h->pending_read.store(0);
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
  const int ps = ::fcntl(fifo_.get(), F_GETPIPE_SZ);
  out.pipe_size = ps > 0 ? uint64_t(ps) : 0;
  out.unfinished = h->unfinished.load();
  Attached a;
  if (Errc e = count_roles(state_fd_.get(), a); e != Errc::ok) return e;
  out.senders = a.senders;
  out.receivers = a.receivers;
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
