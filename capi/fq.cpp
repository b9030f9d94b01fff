// extern "C" shims: check arguments, call the core, return its code.
#include "fq.h"

#include <cstring>
#include <memory>

#include "errc.hpp"
#include "guard.hpp"
#include "queue.hpp"

struct fq_queue {
  std::unique_ptr<fq::Transport> transport;
};

namespace {

using fq::Errc;

static_assert(FQ_READ == fq::kRead && FQ_WRITE == fq::kWrite && FQ_CREATE == fq::kCreate &&
                  FQ_LINES == fq::kLines && FQ_NONBLOCK == fq::kNonblock,
              "C flags and core flags must agree");
#define FQ_ERR(name, value, cls, text) \
  static_assert(FQ_E##name == static_cast<int>(Errc::name), "fq.h is stale");
#include "errors.def"
#undef FQ_ERR

// The timeout of a call that takes none: forever, or none with FQ_NONBLOCK.
int default_timeout(const fq_queue *q) { return (q->transport->flags() & fq::kNonblock) ? 0 : -1; }

int send_one(fq_queue *q, const void *data, size_t len, int timeout_ms) {
  return fq::guarded([&] {
    if (!q || (!data && len > 0)) return Errc::INVAL;
    iovec v{const_cast<void *>(data), len};
    return q->transport->send(&v, 1, fq::Deadline::after_ms(timeout_ms));
  });
}

int recv_one(fq_queue *q, void *buf, size_t cap, size_t *len, int timeout_ms) {
  return fq::guarded([&] {
    if (!q || !len || (!buf && cap > 0)) return Errc::INVAL;
    return q->transport->recv(buf, cap, len, false, fq::Deadline::after_ms(timeout_ms));
  });
}

}  // namespace

extern "C" {

int fq_open(const char *path, int flags, fq_queue **out) {
  return fq_open_opts(path, flags, nullptr, out);
}

int fq_open_opts(const char *path, int flags, const fq_opts *opts, fq_queue **out) {
  return fq::guarded([&] {
    if (!path || !out) return Errc::INVAL;
    *out = nullptr;
    fq::OpenOptions o;
    if (opts) {
      // Read only the fields the caller's fq_opts has.
      fq_opts in = FQ_OPTS_INIT;
      if (opts->size < offsetof(fq_opts, mode) + sizeof(unsigned int)) return Errc::INVAL;
      std::memcpy(&in, opts, opts->size < sizeof in ? opts->size : sizeof in);
      o.mode = in.mode;
      if (in.max_msg) o.limits.max_msg = in.max_msg;
      if (in.room_bytes) o.limits.room_bytes = in.room_bytes;
      if (in.room_msgs) o.limits.room_msgs = in.room_msgs;
      o.limits.pipe_size = in.pipe_size;
      if (in.mode > 0777) return Errc::INVAL;
    }
    auto q = std::make_unique<fq_queue>();
    if (Errc e = fq::open_transport(path, flags, o, q->transport); e != Errc::ok) return e;
    *out = q.release();
    return Errc::ok;
  });
}

int fq_send(fq_queue *q, const void *data, size_t len) {
  if (!q) return FQ_EINVAL;
  return send_one(q, data, len, default_timeout(q));
}

int fq_send_timeout(fq_queue *q, const void *data, size_t len, int timeout_ms) {
  return send_one(q, data, len, timeout_ms);
}

int fq_sendv(fq_queue *q, const struct iovec *iov, int iovcnt, int timeout_ms) {
  return fq::guarded([&] {
    if (!q || iovcnt < 0 || (!iov && iovcnt > 0)) return Errc::INVAL;
    return q->transport->send(iov, size_t(iovcnt), fq::Deadline::after_ms(timeout_ms));
  });
}

int fq_recv(fq_queue *q, void *buf, size_t cap, size_t *len) {
  if (!q) return FQ_EINVAL;
  return recv_one(q, buf, cap, len, default_timeout(q));
}

int fq_recv_timeout(fq_queue *q, void *buf, size_t cap, size_t *len, int timeout_ms) {
  return recv_one(q, buf, cap, len, timeout_ms);
}

int fq_next_size(fq_queue *q, size_t *len, int timeout_ms) {
  return fq::guarded([&] {
    if (!q || !len) return Errc::INVAL;
    return q->transport->recv(nullptr, 0, len, true, fq::Deadline::after_ms(timeout_ms));
  });
}

int fq_get_stats(fq_queue *q, fq_stats *out) {
  return fq::guarded([&] {
    if (!q || !out || out->size < sizeof(size_t)) return Errc::INVAL;
    fq::Stats s;
    if (Errc e = q->transport->stats(s); e != Errc::ok) return e;
    const fq_stats full = {sizeof(fq_stats), s.queued_msgs,   s.queued_bytes, s.sent,
                           s.received,       s.garbage_bytes, s.dropped,      s.lost_reads,
                           s.max_msg,        s.room_msgs,     s.room_bytes,   s.pipe_size,
                           s.senders,        s.receivers,     s.unfinished};
    const size_t n = out->size < sizeof full ? out->size : sizeof full;
    const size_t caller_size = out->size;
    std::memcpy(out, &full, n);
    out->size = caller_size;
    return Errc::ok;
  });
}

int fq_task_done(fq_queue *q) {
  return fq::guarded([&] {
    if (!q) return Errc::INVAL;
    return q->transport->task_done();
  });
}

int fq_join(fq_queue *q, int timeout_ms) {
  return fq::guarded([&] {
    if (!q) return Errc::INVAL;
    return q->transport->join(fq::Deadline::after_ms(timeout_ms));
  });
}

int fq_close(fq_queue *q) {
  if (!q) return FQ_EINVAL;
  delete q;
  return 0;
}

int fq_unlink(const char *path) {
  return fq::guarded([&] {
    if (!path) return Errc::INVAL;
    return fq::unlink_queue(path);
  });
}

const char *fq_strerror(int err) { return fq::errc_text(err); }

int fq_version(void) { return FQ_VERSION; }

}  // extern "C"
