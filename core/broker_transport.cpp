#include "broker_transport.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>

#include "broker_envelope.hpp"
#include "signals_held.hpp"

namespace fq {
namespace {

constexpr size_t kMaxQueueName = 255;  // AMQP's short string
constexpr int kMaxPollPauseMs = 32;    // an idle receiver asks about 30 times a second
constexpr int kPolicyCopies = 4;       // concurrent readers each borrow one (core/broker.md)
constexpr int64_t kPolicyCacheNs = 1000000000;
constexpr int64_t kCompanionRedeclareNs = 30ll * 1000000000;  // delay queues expire unused
constexpr int kLeaseTagBits = 40;  // a lease: the connection's generation, then the delivery tag
uint64_t delivery_tag(const Received &m) { return m.lease & ((1ull << kLeaseTagBits) - 1); }

// The queue's name on the broker: the name given, lexically normalised as a
// path, so "./jobs" and "jobs" (the same FIFO) are one queue too.
std::string queue_name(const std::string &name) {
  return name.empty() ? name : std::filesystem::path(name).lexically_normal().string();
}

amqp_bytes_t bytes_of(const std::string &s) { return amqp_bytes_t{s.size(), (void *)s.data()}; }

amqp_table_entry_t text_arg(const char *key, const char *value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(value);
  return e;
}

amqp_table_entry_t int_arg(const char *key, int64_t v) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = v;
  return e;
}

amqp_table_entry_t bytes_arg(const char *key, const std::string &value) {
  amqp_table_entry_t e = text_arg(key, "");
  e.value.value.bytes = bytes_of(value);
  return e;
}

amqp_table_t table_of(std::vector<amqp_table_entry_t> &entries) {
  return amqp_table_t{int(entries.size()), entries.data()};
}

Errc declare_on(BrokerConnection &c, const std::string &queue, bool passive,
                const amqp_table_t &args, amqp_queue_declare_ok_t *ok, const Deadline &d) {
  if (Errc e = c.ensure(d); e != Errc::ok) return e;
  c.bound(d);
  const amqp_queue_declare_ok_t *r = amqp_queue_declare(c.get(), BrokerConnection::kAdminChannel,
                                                        bytes_of(queue), passive, 1, 0, 0, args);
  if (!r) return c.check(amqp_get_rpc_reply(c.get()), Errc::NOENT, BrokerConnection::kAdminChannel);
  if (ok) *ok = *r;
  return Errc::ok;
}

Errc delete_on(BrokerConnection &c, const std::string &queue, const Deadline &d) {
  c.bound(d);
  if (!amqp_queue_delete(c.get(), BrokerConnection::kAdminChannel, bytes_of(queue), 0, 0)) {
    return c.check(amqp_get_rpc_reply(c.get()), Errc::NOENT, BrokerConnection::kAdminChannel);
  }
  return Errc::ok;
}

int64_t ms_left(const Deadline &d) {
  if (d.forever()) return INT64_MAX;
  const timespec t = d.remaining();
  return int64_t(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// The delay queue a retry after `ms` waits in: `ms` rounded up to 4
// significant bits (at most 6.25 % later, never earlier), so jittered delays
// share a few queues instead of making one each: about 16 per doubling, about
// 260 between 1 ms and 10 min.
int64_t delay_bucket_ms(int64_t ms) {
  int64_t step = 1;  // the largest power of two at most ms / 16
  while ((step << 1) <= (ms >> 4)) step <<= 1;
  return (ms + step - 1) / step * step;
}

// name.fq-policy: drop-head keeps the latest copies.
std::vector<amqp_table_entry_t> policy_args() { return {int_arg("x-max-length", kPolicyCopies)}; }

}  // namespace

Errc BrokerTransport::open(const std::string &url, const std::string &name, int flags,
                           const OpenOptions &opts, std::unique_ptr<Transport> &out) noexcept {
  try {
    if ((flags & ~kAllFlags) != 0 || (flags & (kRead | kWrite)) == 0) return Errc::INVAL;
    if ((flags & kLines) != 0) return Errc::INVAL;  // lines are FIFO-only
    const std::string queue = queue_name(name);
    if (queue.empty() || queue.size() > kMaxQueueName) return Errc::INVAL;
    std::unique_ptr<BrokerTransport> t(new BrokerTransport(queue, flags, opts.limits));
    if (Errc e = t->conn_.init(url); e != Errc::ok) return e;
    const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
    if (Errc e = t->declare_main((flags & kCreate) != 0, d); e != Errc::ok) return e;
    out = std::move(t);
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::unlink(const std::string &url, const std::string &given) noexcept {
  try {
    const std::string name = queue_name(given);
    if (name.empty() || name.size() > kMaxQueueName) return Errc::INVAL;
    BrokerConnection c;
    if (Errc e = c.init(url); e != Errc::ok) return e;
    const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
    // queue.delete of a missing queue succeeds: ask first, for ENOENT.
    if (Errc e = declare_on(c, name, true, amqp_empty_table, nullptr, d); e != Errc::ok) return e;
    if (Errc e = delete_on(c, name, d); e != Errc::ok) return e;
    const Errc e = delete_on(c, name + ".fq-policy", d);
    return e == Errc::NOENT ? Errc::ok : e;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

std::vector<amqp_table_entry_t> BrokerTransport::main_args() const {
  return {
      text_arg("x-queue-type", "quorum"),
      // What the broker dead-letters itself lands where fq's dead letters do.
      text_arg("x-dead-letter-exchange", ""),
      bytes_arg("x-dead-letter-routing-key", dlq_name_),
      // The room: a full queue refuses (nacks) a publish, and the sender
      // waits for room as on a FIFO. A quorum queue takes one message more
      // than x-max-length (it refuses only once over it), hence the - 1.
      int_arg("x-max-length", int64_t(wanted_.room_msgs) - 1),
      int_arg("x-max-length-bytes", int64_t(wanted_.room_bytes)),
      text_arg("x-overflow", "reject-publish"),
  };
}

Errc BrokerTransport::declare_main(bool create, const Deadline &d) noexcept {
  std::vector<amqp_table_entry_t> args = main_args();
  Errc e = declare_on(conn_, name_, true, amqp_empty_table, nullptr, d);
  if (e == Errc::NOENT && create) {
    e = declare_on(conn_, name_, false, table_of(args), nullptr, d);
    room_known_ = e == Errc::ok;
    // Someone else created it first, with other arguments: use theirs, as a
    // later FIFO opener uses the queue's limits.
    if (e == Errc::INVAL && conn_.last_code() == AMQP_PRECONDITION_FAILED) {
      e = declare_on(conn_, name_, true, amqp_empty_table, nullptr, d);
    }
    return e;
  }
  if (e != Errc::ok) return e;
  // AMQP cannot read a queue's arguments back, but declaring it again with
  // the same ones succeeds and with others fails (406, on the admin channel):
  // that tells whether its room is the one we know.
  const Errc same = declare_on(conn_, name_, false, table_of(args), nullptr, d);
  room_known_ = same == Errc::ok;
  return same == Errc::ok || same == Errc::INVAL ? Errc::ok : same;
}

Errc BrokerTransport::declare_companion(const std::string &queue,
                                        std::vector<amqp_table_entry_t> args) noexcept {
  try {
    const int64_t now = Deadline::now_ns();
    auto it = declared_.find(queue);
    if (it != declared_.end() && now - it->second < kCompanionRedeclareNs) return Errc::ok;
    const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
    Errc e = declare_on(conn_, queue, false, table_of(args), nullptr, d);
    if (e == Errc::INVAL && conn_.last_code() == AMQP_PRECONDITION_FAILED) {
      e = declare_on(conn_, queue, true, amqp_empty_table, nullptr, d);
    }
    if (e == Errc::ok) declared_[queue] = now;
    return e;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::publish(const std::string &queue, const Envelope *env,
                              const amqp_bytes_t &body, const Deadline &d) noexcept {
  try {
    if (Errc e = conn_.ensure(d); e != Errc::ok) return e;
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    std::unique_ptr<EnvelopeHeaders> headers;
    if (env) {
      headers.reset(new EnvelopeHeaders(*env));
      props._flags |= AMQP_BASIC_HEADERS_FLAG;
      props.headers = headers->table();
    }
    const uint64_t tag = conn_.next_publish_tag();
    // mandatory: a message for a queue that is gone comes back (CLOSED)
    // instead of vanishing with an ack.
    const int s = amqp_basic_publish(conn_.get(), BrokerConnection::kChannel, amqp_empty_bytes,
                                     bytes_of(queue), 1, 0, &props, body);
    if (Errc e = conn_.check_status(s); e != Errc::ok) return e;
    bool returned = false;
    for (;;) {
      amqp_frame_t f;
      if (Errc e = conn_.wait_frame(f, d); e != Errc::ok) return e;
      if (f.frame_type != AMQP_FRAME_METHOD) continue;  // a returned message's content
      switch (f.payload.method.id) {
        case AMQP_BASIC_RETURN_METHOD:
          returned = true;
          break;
        case AMQP_BASIC_ACK_METHOD: {
          const auto *a = static_cast<const amqp_basic_ack_t *>(f.payload.method.decoded);
          if (a->delivery_tag == tag || (a->multiple && a->delivery_tag >= tag)) {
            amqp_maybe_release_buffers(conn_.get());
            return returned ? Errc::CLOSED : Errc::ok;
          }
          break;
        }
        case AMQP_BASIC_NACK_METHOD: {
          const auto *n = static_cast<const amqp_basic_nack_t *>(f.payload.method.decoded);
          if (n->delivery_tag == tag || (n->multiple && n->delivery_tag >= tag)) {
            amqp_maybe_release_buffers(conn_.get());
            return Errc::AGAIN;  // refused, not stored: the queue is full
          }
          break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
          return conn_.closed_by_server(f, Errc::CLOSED);
        default:
          break;
      }
    }
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::send(const iovec *iov, size_t iovcnt, const Deadline &d) noexcept {
  return send_enveloped(Envelope{}, iov, iovcnt, d);
}

Errc BrokerTransport::send_enveloped(const Envelope &env, const iovec *iov, size_t iovcnt,
                                     const Deadline &d) noexcept {
  if ((flags_ & kWrite) == 0) return Errc::BADF;
  try {
    if (iovcnt > 0 && iov == nullptr) return Errc::INVAL;
    size_t total = 0;
    for (size_t i = 0; i < iovcnt; ++i) {
      if (iov[i].iov_len > 0 && iov[i].iov_base == nullptr) return Errc::INVAL;
      if (iov[i].iov_len > SIZE_MAX - total) return Errc::MSGSIZE;
      total += iov[i].iov_len;
    }
    if (total > max_msg_) return Errc::MSGSIZE;
    // librabbitmq publishes one buffer: join the pieces unless there is one.
    std::vector<uint8_t> joined;
    amqp_bytes_t body{0, nullptr};
    for (size_t i = 0; i < iovcnt; ++i) {
      if (iov[i].iov_len > 0) body = amqp_bytes_t{iov[i].iov_len, iov[i].iov_base};
    }
    if (body.len != total) {
      joined.reserve(total);
      for (size_t i = 0; i < iovcnt; ++i) {
        const auto *p = static_cast<const uint8_t *>(iov[i].iov_base);
        joined.insert(joined.end(), p, p + iov[i].iov_len);
      }
      body = amqp_bytes_t{joined.size(), joined.data()};
    }
    const bool plain = env.attempts == 0 && env.deaths == 0 && env.origin.empty() &&
                       env.reason.empty() && env.enqueued_ms == 0;
    const SignalsHeld held;  // a publish that went out is not interrupted
    std::unique_lock<std::mutex> lock(mutex_);
    for (int64_t pause = 1;; pause = std::min<int64_t>(pause * 2, kMaxPollPauseMs)) {
      Errc e = publish(name_, plain ? nullptr : &env, body, d);
      if (e == Errc::ok) ++counts_.sent;
      if (e != Errc::AGAIN) return e;
      // Full: wait for room, as a FIFO sender does; nothing was stored.
      if (d.is_poll()) return Errc::AGAIN;
      if (d.expired()) return Errc::TIMEDOUT;
      lock.unlock();
      e = held.pause_ms(std::min(pause, ms_left(d)));
      lock.lock();
      if (e != Errc::ok) return e;
    }
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

uint64_t BrokerTransport::lease_of(uint64_t tag) const noexcept {
  return (conn_.generation() << kLeaseTagBits) | tag;
}

bool BrokerTransport::lease_current(const Received &m) noexcept {
  conn_.check_fork();  // a fork child's leases are its parent's
  return conn_.connected() && (m.lease >> kLeaseTagBits) == conn_.generation();
}

void BrokerTransport::forget_lease(Received &m) noexcept {
  if (!m.leased) return;
  m.leased = false;
  if (leased_ > 0) --leased_;
}

Errc BrokerTransport::read_content(Delivery &out, const Deadline &d, void *dest,
                                   size_t cap) noexcept {
  try {
    amqp_frame_t f;
    if (Errc e = conn_.wait_frame(f, d); e != Errc::ok) return e;
    if (f.frame_type != AMQP_FRAME_HEADER) {
      conn_.drop();
      return Errc::BROKER;
    }
    const size_t size = size_t(f.payload.properties.body_size);
    const auto *props = static_cast<const amqp_basic_properties_t *>(f.payload.properties.decoded);
    if (props && (props->_flags & AMQP_BASIC_HEADERS_FLAG)) {
      envelope_from_headers(props->headers, out.r.env);
    } else {
      out.r.env = Envelope{};
      out.r.env.attempts = 1;
    }
    // A plain receive's body goes straight into the caller's buffer when it
    // fits: a buffer of our own would cost an allocation (fresh pages, for a
    // large one) and a second copy per message.
    out.in_dest = dest != nullptr && size <= cap;
    if (out.in_dest) {
      out.r.data.reset();
    } else {
      out.r.data.reset(new uint8_t[size > 0 ? size : 1]);
    }
    uint8_t *to = out.in_dest ? static_cast<uint8_t *>(dest) : out.r.data.get();
    out.r.len = size;
    for (size_t got = 0; got < size;) {
      if (Errc e = conn_.wait_frame(f, d); e != Errc::ok) return e;
      if (f.frame_type != AMQP_FRAME_BODY || f.payload.body_fragment.len > size - got) {
        conn_.drop();
        return Errc::BROKER;
      }
      std::memcpy(to + got, f.payload.body_fragment.bytes, f.payload.body_fragment.len);
      got += f.payload.body_fragment.len;
    }
    amqp_maybe_release_buffers(conn_.get());
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    conn_.drop();  // the rest of the message is still in the stream
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::get_once(Delivery &out, bool &empty, const Deadline &d, void *dest,
                               size_t cap) noexcept {
  empty = false;
  conn_.bound(d);
  const amqp_rpc_reply_t r =
      amqp_basic_get(conn_.get(), BrokerConnection::kChannel, bytes_of(name_), 0);
  if (Errc e = conn_.check(r, Errc::CLOSED); e != Errc::ok) return e;
  if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
    empty = true;
    return Errc::ok;
  }
  const auto *ok = static_cast<const amqp_basic_get_ok_t *>(r.reply.decoded);
  out.tag = ok->delivery_tag;
  if (ok->redelivered) ++counts_.redelivered;
  ++counts_.received;
  out.r.lease = lease_of(out.tag);
  out.r.leased = false;
  return read_content(out, d, dest, cap);
}

Errc BrokerTransport::take(std::unique_lock<std::mutex> &lock, Delivery &out, const Deadline &d,
                           void *dest, size_t cap) noexcept {
  const SignalsHeld held;
  int64_t pause = 1;
  bool reconnected = false;
  for (;;) {
    if (has_parked_) {
      has_parked_ = false;
      if (lease_current(parked_.r)) {  // else the broker took it back with the connection
        out = std::move(parked_);
        return Errc::ok;
      }
    }
    bool empty = false;
    Errc e = conn_.ensure(d);
    if (e == Errc::ok) e = get_once(out, empty, d, dest, cap);
    if (e == Errc::BROKER && !reconnected && !d.expired()) {
      reconnected = true;  // once per call: a broker that is down is an error, not a hang
      continue;
    }
    if (e != Errc::ok || !empty) return e;
    if (d.is_poll()) return Errc::AGAIN;
    if (d.expired()) return Errc::TIMEDOUT;
    // Other threads of the handle may send meanwhile.
    lock.unlock();
    e = held.pause_ms(std::min(pause, ms_left(d)));
    lock.lock();
    if (e != Errc::ok) return e;
    pause = std::min<int64_t>(pause * 2, kMaxPollPauseMs);
  }
}

Errc BrokerTransport::settle(uint64_t tag, bool requeue, amqp_channel_t channel) noexcept {
  const int s = requeue ? amqp_basic_reject(conn_.get(), channel, tag, 1)
                        : amqp_basic_ack(conn_.get(), channel, tag, 0);
  return conn_.check_status(s);
}

Errc BrokerTransport::recv(void *buf, size_t cap, size_t *len, bool peek,
                           const Deadline &d) noexcept {
  if ((flags_ & kRead) == 0) return Errc::BADF;
  std::unique_lock<std::mutex> lock(mutex_);
  Delivery m;
  // A peek keeps the message: it must not land in buf, only its length.
  if (Errc e = take(lock, m, d, peek ? nullptr : buf, cap); e != Errc::ok) return e;
  *len = m.r.len;
  if (peek || m.r.len > cap) {
    // Kept, unacknowledged, for this handle's next receive (in r.data: a
    // body larger than cap, or a peek, is never read into buf).
    parked_ = std::move(m);
    has_parked_ = true;
    return peek ? Errc::ok : Errc::TOOSMALL;
  }
  if (!m.in_dest && m.r.len > 0) std::memcpy(buf, m.r.data.get(), m.r.len);
  // A lost ack means the broker delivers it again: a duplicate, never a loss.
  settle(m.tag, false);
  return Errc::ok;
}

Errc BrokerTransport::receive(Received &out, int lease_ms, const Deadline &d) noexcept {
  if ((flags_ & kRead) == 0) return Errc::BADF;
  std::unique_lock<std::mutex> lock(mutex_);
  Delivery m;
  if (Errc e = take(lock, m, d); e != Errc::ok) return e;
  out = std::move(m.r);
  if (lease_ms < 0) {
    settle(m.tag, false);
    return Errc::ok;
  }
  // The lease lasts as long as the connection: see core/broker.md.
  out.leased = true;
  ++leased_;
  if (out.env.enqueued_ms == 0) out.env.enqueued_ms = wall_ms();
  return Errc::ok;
}

Errc BrokerTransport::ack(Received &m) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!m.leased) return Errc::ok;
  const bool current = lease_current(m);
  forget_lease(m);
  if (!current || settle(delivery_tag(m), false) != Errc::ok) {
    return Errc::LEASELOST;
  }
  return Errc::ok;
}

Errc BrokerTransport::abandon(Received &m) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!m.leased) return Errc::ok;
  const bool current = lease_current(m);
  forget_lease(m);
  if (current) settle(delivery_tag(m), true);
  return Errc::ok;
}

// Publishes the copy that replaces `m` (confirmed), then acknowledges `m`:
// a crash between the two duplicates it, never loses it.
Errc BrokerTransport::republish(Received &m, const std::string &queue,
                                const Envelope &env) noexcept {
  if (m.leased && !lease_current(m)) {
    forget_lease(m);
    return Errc::LEASELOST;  // the broker has already given it to someone else
  }
  const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
  if (Errc e = publish(queue, &env, amqp_bytes_t{m.len, m.data.get()}, d); e != Errc::ok) {
    return e;
  }
  if (!m.leased) return Errc::ok;
  const bool current = lease_current(m);
  forget_lease(m);
  // Published but the original's lease went with a dropped connection: it
  // comes round once more.
  if (!current || settle(delivery_tag(m), false) != Errc::ok) {
    return Errc::LEASELOST;
  }
  return Errc::ok;
}

Errc BrokerTransport::retry(Received &m, const std::string &reason, int64_t delay_ms) noexcept {
  if (delay_ms < 0) return Errc::INVAL;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    Envelope env = m.env;
    const int64_t now = wall_ms();
    env.record_retry(reason, now, delay_ms);
    std::string queue = name_;
    if (delay_ms > 0) {
      // One queue per delay: RabbitMQ expires messages only at a queue's head.
      const int64_t wait_ms = delay_bucket_ms(delay_ms);
      queue = name_ + ".fq-delay." + std::to_string(wait_ms);
      const Errc e = declare_companion(
          queue, {
                     text_arg("x-queue-type", "quorum"),
                     int_arg("x-message-ttl", wait_ms),
                     text_arg("x-dead-letter-exchange", ""),
                     bytes_arg("x-dead-letter-routing-key", name_),
                     text_arg("x-dead-letter-strategy", "at-least-once"),
                     text_arg("x-overflow", "reject-publish"),  // at-least-once needs it
                     int_arg("x-expires", wait_ms + 60000),
                 });
      if (e != Errc::ok) return e;
    }
    const Errc e = republish(m, queue, env);
    if (e == Errc::ok) {
      m.env = std::move(env);
      ++counts_.retried;
    }
    return e;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::dead_letter(Received &m, const std::string &reason, bool permanent) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    Envelope env = m.env;
    const int64_t now = wall_ms();
    env.record_death(reason, name_, permanent, now);
    if (Errc e = declare_companion(dlq_name_, {text_arg("x-queue-type", "quorum")});
        e != Errc::ok) {
      return e;
    }
    const Errc e = republish(m, dlq_name_, env);
    if (e == Errc::ok) {
      m.env = std::move(env);
      ++counts_.dead_lettered;
    }
    return e;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

// ---- policy: a few copies of the latest in name.fq-policy ----

Errc BrokerTransport::read_policy(Policy &out) noexcept {
  try {
    const std::string queue = name_ + ".fq-policy";
    const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
    if (Errc e = declare_companion(queue, policy_args()); e != Errc::ok) return e;
    // A copy may be borrowed by another reader for a moment: ask again; an
    // empty queue after that means nobody set a policy.
    for (int tries = 0; tries < 3; ++tries) {
      if (Errc e = conn_.ensure(d); e != Errc::ok) return e;
      conn_.bound(d);
      const amqp_rpc_reply_t r =
          amqp_basic_get(conn_.get(), BrokerConnection::kAdminChannel, bytes_of(queue), 0);
      if (Errc e = conn_.check(r, Errc::CLOSED, BrokerConnection::kAdminChannel); e != Errc::ok) {
        return e;
      }
      if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
        const timespec ms{0, 1000000};
        ::nanosleep(&ms, nullptr);  // a signal only shortens it
        continue;
      }
      Delivery m;
      m.tag = static_cast<const amqp_basic_get_ok_t *>(r.reply.decoded)->delivery_tag;
      if (Errc e = read_content(m, d); e != Errc::ok) return e;
      settle(m.tag, true, BrokerConnection::kAdminChannel);  // back for the next reader
      const std::string text(reinterpret_cast<const char *>(m.r.data.get()), m.r.len);
      Policy p{};
      if (std::sscanf(text.c_str(), "%" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32 " %lf %" SCNu32,
                      &p.max_attempts, &p.lease_ms, &p.backoff_base_ms, &p.backoff_cap_ms,
                      &p.backoff_factor, &p.jitter_pct) != 6) {
        return Errc::BROKER;  // not ours
      }
      out = p;
      return Errc::ok;
    }
    out = Policy{};
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::policy(Policy &out) noexcept {
  // fq_lease reads the policy before it waits: a Ctrl-C in this round trip
  // must still end the lease call.
  const SignalsHeld held;
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t now = Deadline::now_ns();
  if (policy_read_ns_ == 0 || now - policy_read_ns_ > kPolicyCacheNs) {
    if (Errc e = read_policy(policy_); e != Errc::ok) return e;
    policy_read_ns_ = now;
  }
  out = policy_;
  return held.arrived() ? Errc::INTR : Errc::ok;
}

Errc BrokerTransport::set_policy(const Policy &p) noexcept {
  if (p.max_attempts == 0 || !(p.backoff_factor >= 1.0) || p.jitter_pct > 100) return Errc::INVAL;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string queue = name_ + ".fq-policy";
    // Text, so hosts of any byte order read it alike.
    if (Errc e = declare_companion(queue, policy_args()); e != Errc::ok) return e;
    char text[160];
    const int n =
        std::snprintf(text, sizeof text, "%u %u %u %u %.17g %u", p.max_attempts, p.lease_ms,
                      p.backoff_base_ms, p.backoff_cap_ms, p.backoff_factor, p.jitter_pct);
    const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
    for (int i = 0; i < kPolicyCopies; ++i) {
      if (Errc e = publish(queue, nullptr, amqp_bytes_t{size_t(n), text}, d); e != Errc::ok) {
        return e;
      }
    }
    policy_ = p;
    policy_read_ns_ = Deadline::now_ns();
    return Errc::ok;
  } catch (const std::bad_alloc &) {
    return Errc::NOMEM;
  }
}

Errc BrokerTransport::stats(Stats &out) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  amqp_queue_declare_ok_t ok{};
  const Deadline d = Deadline::after_ms(BrokerConnection::kMaxRoundTripMs);
  if (Errc e = declare_on(conn_, name_, true, amqp_empty_table, &ok, d); e != Errc::ok) {
    return e == Errc::NOENT ? Errc::CLOSED : e;
  }
  out = counts_;
  out.queued_msgs = ok.message_count;
  out.receivers = ok.consumer_count;
  out.max_msg = max_msg_;
  if (room_known_) {
    out.room_msgs = wanted_.room_msgs;
    out.room_bytes = wanted_.room_bytes;
  }
  out.held = out.leased = leased_ + (has_parked_ ? 1 : 0);
  return Errc::ok;
}

}  // namespace fq
