// extern "C" shims: check arguments, call the core, return its code.
#include "fq.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dead_log.hpp"
#include "errc.hpp"
#include "failure.hpp"
#include "guard.hpp"
#include "queue.hpp"
#include "retry_policy.hpp"

struct fq_queue {
  // Shared with the messages received through it, which settle through it
  // even after fq_close.
  std::shared_ptr<fq::Transport> transport;
};

struct fq_msg {
  std::shared_ptr<fq::Transport> transport;  // null for a dead log record
  fq::Received r;
};

struct fq_dead_log {
  fq::DeadLogReader reader;
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
    if (flags & ~fq::kAllFlags) return Errc::INVAL;  // internal flags stay internal
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
      o.broker = in.broker;  // NULL unless the caller's fq_opts has the field
      if (in.mode > 0777) return Errc::INVAL;
    }
    std::unique_ptr<fq::Transport> t;
    if (Errc e = fq::open_transport(path, flags, o, t); e != Errc::ok) return e;
    *out = new fq_queue{std::move(t)};
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

int fq_send_many(fq_queue *q, const struct iovec *msgs, size_t count, size_t *sent,
                 int timeout_ms) {
  size_t none = 0;
  if (!sent) sent = &none;
  *sent = 0;
  return fq::guarded([&] {
    if (!q || (!msgs && count > 0)) return Errc::INVAL;
    return q->transport->send_many(msgs, count, *sent, fq::Deadline::after_ms(timeout_ms));
  });
}

int fq_recv_many(fq_queue *q, void *buf, size_t cap, size_t *lens, size_t max, size_t *count,
                 int timeout_ms) {
  if (count) *count = 0;
  return fq::guarded([&] {
    if (!q || !lens || !count || max == 0 || (!buf && cap > 0)) return Errc::INVAL;
    return q->transport->recv_many(buf, cap, lens, max, *count, fq::Deadline::after_ms(timeout_ms));
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
                           s.held,           s.leased,        s.retried,      s.dead_lettered,
                           s.redelivered,    s.senders,       s.receivers,    s.unfinished};
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

// ---- messages with their history ----

namespace {

int receive_msg(fq_queue *q, fq_msg **out, int lease_ms, int timeout_ms) {
  return fq::guarded([&] {
    if (!q || !out) return Errc::INVAL;
    *out = nullptr;
    auto m = std::make_unique<fq_msg>();
    m->transport = q->transport;
    const Errc e = q->transport->receive(m->r, lease_ms, fq::Deadline::after_ms(timeout_ms));
    if (e == Errc::ok) *out = m.release();
    return e;
  });
}

const char *text_or_empty(const fq_msg *m, const std::string fq::Envelope::*field) {
  return m ? (m->r.env.*field).c_str() : "";
}

}  // namespace

int fq_recv_msg(fq_queue *q, fq_msg **out, int timeout_ms) {
  return receive_msg(q, out, -1, timeout_ms);
}

int fq_lease(fq_queue *q, fq_msg **out, int lease_ms, int timeout_ms) {
  if (!q || lease_ms < -1) return FQ_EINVAL;
  if (lease_ms == -1) {
    fq::Policy p;
    if (Errc e = q->transport->policy(p); e != Errc::ok) return static_cast<int>(e);
    lease_ms = int(fq::effective(p).lease_ms);
  }
  return receive_msg(q, out, lease_ms, timeout_ms);
}

const void *fq_msg_data(const fq_msg *m) {
  if (!m) return nullptr;
  static const char empty = 0;  // a valid pointer for an empty message
  return m->r.len > 0 ? static_cast<const void *>(m->r.bytes()) : &empty;
}
size_t fq_msg_size(const fq_msg *m) { return m ? m->r.len : 0; }
unsigned fq_msg_attempts(const fq_msg *m) { return m ? m->r.env.attempts : 0; }
unsigned fq_msg_deaths(const fq_msg *m) { return m ? m->r.env.deaths : 0; }
int64_t fq_msg_first_death_ms(const fq_msg *m) { return m ? m->r.env.first_death_ms : 0; }
int64_t fq_msg_last_death_ms(const fq_msg *m) { return m ? m->r.env.last_death_ms : 0; }
int64_t fq_msg_enqueued_ms(const fq_msg *m) { return m ? m->r.env.enqueued_ms : 0; }
int64_t fq_msg_not_before_ms(const fq_msg *m) { return m ? m->r.env.not_before_ms : 0; }
const char *fq_msg_origin(const fq_msg *m) { return text_or_empty(m, &fq::Envelope::origin); }
const char *fq_msg_reason(const fq_msg *m) { return text_or_empty(m, &fq::Envelope::reason); }
int fq_msg_permanent(const fq_msg *m) {
  return m && (m->r.env.flags & fq::Envelope::kPermanent) ? 1 : 0;
}
int fq_msg_leased(const fq_msg *m) { return m && m->r.leased ? 1 : 0; }

int fq_ack(fq_msg *m) {
  return fq::guarded([&] {
    if (!m) return Errc::INVAL;
    return m->transport ? m->transport->ack(m->r) : Errc::ok;
  });
}

int fq_retry(fq_msg *m, const char *reason, int delay_ms) {
  return fq::guarded([&] {
    if (!m || !m->transport || delay_ms < 0) return Errc::INVAL;
    return m->transport->retry(m->r, reason ? reason : "", delay_ms);
  });
}

int fq_dead_letter(fq_msg *m, const char *reason) {
  return fq::guarded([&] {
    if (!m || !m->transport) return Errc::INVAL;
    return m->transport->dead_letter(m->r, reason ? reason : "", false);
  });
}

int fq_fail(fq_msg *m, const char *reason, int flags, int64_t *retry_ms) {
  return fq::guarded([&] {
    if (!m || !m->transport || (flags & ~FQ_PERMANENT) != 0) return Errc::INVAL;
    int64_t delay = -1;
    const Errc e = fq::fail(*m->transport, m->r, reason ? reason : "", flags & FQ_PERMANENT, delay);
    if (retry_ms) *retry_ms = delay;
    return e;
  });
}

int fq_msg_free(fq_msg *m) {
  if (!m) return FQ_EINVAL;
  if (m->transport) m->transport->abandon(m->r);  // an unsettled lease goes back at once
  delete m;
  return 0;
}

int fq_get_policy(fq_queue *q, fq_policy *out) {
  return fq::guarded([&] {
    if (!q || !out || out->size < sizeof(size_t)) return Errc::INVAL;
    fq::Policy p;
    if (Errc e = q->transport->policy(p); e != Errc::ok) return e;
    p = fq::effective(p);
    const fq_policy full = {sizeof(fq_policy), p.max_attempts,   p.lease_ms,  p.backoff_base_ms,
                            p.backoff_cap_ms,  p.backoff_factor, p.jitter_pct};
    const size_t caller_size = out->size;
    std::memcpy(out, &full, caller_size < sizeof full ? caller_size : sizeof full);
    out->size = caller_size;
    return Errc::ok;
  });
}

int fq_set_policy(fq_queue *q, const fq_policy *in) {
  return fq::guarded([&] {
    if (!q || !in || in->size < sizeof(fq_policy)) return Errc::INVAL;
    fq::Policy p{};
    p.max_attempts = in->max_attempts;
    p.lease_ms = in->lease_ms;
    p.backoff_base_ms = in->backoff_base_ms;
    p.backoff_cap_ms = in->backoff_cap_ms;
    p.backoff_factor = in->backoff_factor;
    p.jitter_pct = in->jitter_pct;
    return q->transport->set_policy(p);
  });
}

int fq_redrive(fq_queue *dlq, const char *to, size_t *moved) {
  return fq::guarded([&] {
    size_t n = 0;
    if (!dlq) return Errc::INVAL;
    const Errc e = fq::redrive(*dlq->transport, to ? to : "", n);
    if (moved) *moved = n;
    return e;
  });
}

int fq_dead_open(const char *queue_path, fq_dead_log **out) {
  return fq::guarded([&] {
    if (!queue_path || !out) return Errc::INVAL;
    *out = nullptr;
    auto log = std::make_unique<fq_dead_log>();
    if (Errc e = log->reader.open(fq::dead_log_path(queue_path)); e != Errc::ok) return e;
    *out = log.release();
    return Errc::ok;
  });
}

int fq_dead_next(fq_dead_log *log, fq_msg **out) {
  return fq::guarded([&] {
    if (!log || !out) return Errc::INVAL;
    *out = nullptr;
    auto m = std::make_unique<fq_msg>();
    std::vector<uint8_t> payload;
    if (Errc e = log->reader.next(m->r.env, payload); e != Errc::ok) return e;
    m->r.len = payload.size();
    m->r.data.reset(new uint8_t[payload.size() > 0 ? payload.size() : 1]);
    if (!payload.empty()) std::memcpy(m->r.data.get(), payload.data(), payload.size());
    *out = m.release();
    return Errc::ok;
  });
}

int fq_dead_close(fq_dead_log *log) {
  if (!log) return FQ_EINVAL;
  delete log;
  return 0;
}

const char *fq_strerror(int err) { return fq::errc_text(err); }

int fq_version(void) { return FQ_VERSION; }

}  // extern "C"
