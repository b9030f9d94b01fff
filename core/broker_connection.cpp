#include "broker_connection.hpp"

#include <amqp_tcp_socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

namespace fq {
namespace {

timeval to_timeval(int64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// What is left of d for one round trip: never less than kMinRoundTripMs (a
// poll still needs its one exchange), never more than kMaxRoundTripMs (a
// broker that stops answering is an error, not a hang).
int64_t round_trip_ms(const Deadline &d) {
  if (d.forever()) return BrokerConnection::kMaxRoundTripMs;
  const timespec left = d.remaining();
  const int64_t ms = int64_t(left.tv_sec) * 1000 + left.tv_nsec / 1000000;
  return std::clamp<int64_t>(ms, BrokerConnection::kMinRoundTripMs,
                             BrokerConnection::kMaxRoundTripMs);
}

// A peer that vanishes without a reset (a cable, a frozen VM) is noticed
// within about 15 s even while librabbitmq waits with no timeout of its own.
void set_keepalive(int fd) {
  const int on = 1, idle = 5, interval = 2, count = 3;
  const unsigned user_timeout_ms = 15000;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

Errc from_reply_code(int code, Errc not_found) {
  switch (code) {
    case AMQP_NOT_FOUND:
      return not_found;
    case AMQP_ACCESS_REFUSED:
      return Errc::ACCES;
    case AMQP_PRECONDITION_FAILED:
      return Errc::INVAL;
    default:
      return Errc::BROKER;
  }
}

}  // namespace

BrokerConnection::~BrokerConnection() {
  if (!conn_) return;
  if (fork_.armed()) {
    const timeval tv = to_timeval(kMinRoundTripMs);
    amqp_set_rpc_timeout(conn_, &tv);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn_);
}

Errc BrokerConnection::init(const std::string &url) {
  url_.assign(url.begin(), url.end());
  url_.push_back('\0');
  amqp_default_connection_info(&info_);
  return amqp_parse_url(url_.data(), &info_) == AMQP_STATUS_OK && !info_.ssl ? Errc::ok
                                                                             : Errc::INVAL;
}

void BrokerConnection::drop() noexcept {
  if (!conn_) return;
  // amqp_destroy_connection only closes the socket: nothing is sent.
  amqp_destroy_connection(conn_);
  conn_ = nullptr;
  ++generation_;
}

void BrokerConnection::check_fork() noexcept {
  if (!fork_.armed() && fork_.claim()) {
    drop();  // the parent's: it must not hear from us
    fork_.done(true);
  }
}

Errc BrokerConnection::ensure(const Deadline &d) noexcept {
  check_fork();
  return conn_ ? Errc::ok : connect(d);
}

Errc BrokerConnection::connect(const Deadline &d) noexcept {
  conn_ = amqp_new_connection();
  if (!conn_) return Errc::NOMEM;
  ++generation_;
  published_ = 0;
  amqp_socket_t *sock = amqp_tcp_socket_new(conn_);
  if (!sock) {
    drop();
    return Errc::NOMEM;
  }
  timeval tv = to_timeval(round_trip_ms(d));
  if (amqp_socket_open_noblock(sock, info_.host, info_.port, &tv) != AMQP_STATUS_OK) {
    drop();
    return Errc::BROKER;
  }
  set_keepalive(amqp_socket_get_sockfd(sock));
  tv = to_timeval(round_trip_ms(d));
  amqp_set_handshake_timeout(conn_, &tv);
  amqp_set_rpc_timeout(conn_, &tv);
  // Heartbeats off: librabbitmq answers them only inside its own calls, so a
  // worker busy for a minute would lose its connection, and its leases.
  const amqp_rpc_reply_t r = amqp_login(conn_, info_.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                                        AMQP_SASL_METHOD_PLAIN, info_.user, info_.password);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    drop();
    return Errc::BROKER;
  }
  if (Errc e = open_channel(kChannel); e != Errc::ok) return e;
  return open_channel(kAdminChannel);
}

Errc BrokerConnection::open_channel(amqp_channel_t channel) noexcept {
  amqp_channel_open(conn_, channel);
  if (Errc e = check(amqp_get_rpc_reply(conn_), Errc::BROKER, channel); e != Errc::ok) return e;
  if (channel != kChannel) return Errc::ok;
  amqp_confirm_select(conn_, channel);
  return check(amqp_get_rpc_reply(conn_), Errc::BROKER, channel);
}

Errc BrokerConnection::reopen_channel(amqp_channel_t channel) noexcept {
  amqp_channel_close_ok_t ok{};
  if (amqp_send_method(conn_, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK) {
    drop();
    return Errc::BROKER;
  }
  if (channel == kChannel) {
    ++generation_;  // the new channel numbers its deliveries from 1 again
    published_ = 0;
  }
  const Errc e = open_channel(channel);
  if (e != Errc::ok) drop();
  return e;
}

void BrokerConnection::bound(const Deadline &d) noexcept {
  if (!conn_) return;
  const timeval tv = to_timeval(round_trip_ms(d));
  amqp_set_rpc_timeout(conn_, &tv);
}

Errc BrokerConnection::check(const amqp_rpc_reply_t &r, Errc not_found,
                             amqp_channel_t channel) noexcept {
  last_code_ = 0;
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Errc::ok;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const int code = static_cast<const amqp_channel_close_t *>(r.reply.decoded)->reply_code;
        const Errc reopened = reopen_channel(channel);
        last_code_ = code;  // after the reopen, whose own checks reset it
        return reopened == Errc::ok ? from_reply_code(code, not_found) : reopened;
      }
      drop();  // connection.close: the broker is going away or refused us
      return Errc::BROKER;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: {
      const bool timed_out = r.library_error == AMQP_STATUS_TIMEOUT;
      drop();  // a half-done exchange: the stream cannot be trusted
      return timed_out ? Errc::TIMEDOUT : Errc::BROKER;
    }
    default:
      drop();
      return Errc::BROKER;
  }
}

Errc BrokerConnection::check_status(int status) noexcept {
  if (status == AMQP_STATUS_OK) return Errc::ok;
  drop();
  return status == AMQP_STATUS_NO_MEMORY ? Errc::NOMEM : Errc::BROKER;
}

Errc BrokerConnection::closed_by_server(const amqp_frame_t &f, Errc not_found) noexcept {
  amqp_rpc_reply_t r{};
  r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
  r.reply = f.payload.method;
  return check(r, not_found, f.channel);
}

Errc BrokerConnection::wait_frame(amqp_frame_t &f, const Deadline &d) noexcept {
  for (;;) {
    timeval tv = to_timeval(round_trip_ms(d));
    const int s = amqp_simple_wait_frame_noblock(conn_, &f, &tv);
    if (s == AMQP_STATUS_TIMEOUT) {
      drop();
      return Errc::TIMEDOUT;
    }
    if (s != AMQP_STATUS_OK) return check_status(s);
    if (f.channel == kChannel || f.frame_type != AMQP_FRAME_HEARTBEAT) return Errc::ok;
  }
}

}  // namespace fq
