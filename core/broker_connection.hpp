// One AMQP connection for the broker transport, with two channels: kChannel
// (confirm mode) carries publishes and deliveries, kAdminChannel the
// declarations and deletions, whose errors (404, 406) close their channel:
// on the admin channel that costs no lease. It connects within a deadline,
// bounds every round trip, maps RabbitMQ's errors to Errc, and reconnects
// after a drop or a fork.
// Not thread-safe: its owner serialises calls. Design: core/broker.md.
#pragma once
#include <amqp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "deadline.hpp"
#include "errc.hpp"
#include "fork_guard.hpp"

namespace fq {

class BrokerConnection {
 public:
  static constexpr amqp_channel_t kChannel = 1;
  static constexpr amqp_channel_t kAdminChannel = 2;

  BrokerConnection() = default;
  BrokerConnection(const BrokerConnection &) = delete;
  BrokerConnection &operator=(const BrokerConnection &) = delete;
  // Closes the connection politely, except in a fork child, which only
  // closes its descriptor: the parent's connection must live on.
  ~BrokerConnection();

  // Checks and keeps an AMQP URI (amqp://user:pass@host:port/vhost).
  Errc init(const std::string &url);
  // Connects unless connected, within d (at least kMinRoundTripMs).
  Errc ensure(const Deadline &d) noexcept;
  // Forgets the connection without a word to the broker.
  void drop() noexcept;
  // In a fork child, drops the parent's connection (and so its delivery
  // tags) before anything can be written on it.
  void check_fork() noexcept;
  bool connected() const noexcept { return conn_ != nullptr; }
  amqp_connection_state_t get() const noexcept { return conn_; }
  // Changes whenever kChannel's delivery tags start again (a new connection
  // or channel).
  uint64_t generation() const noexcept { return generation_; }
  // Bounds the round trips that follow by d, at least kMinRoundTripMs and at
  // most kMaxRoundTripMs.
  void bound(const Deadline &d) noexcept;

  // The outcome of a round trip on `channel`. On a channel error the channel
  // is reopened (404 gives `not_found`); on anything worse the connection is
  // dropped.
  Errc check(const amqp_rpc_reply_t &r, Errc not_found, amqp_channel_t channel = kChannel) noexcept;
  // The same for a call that only sends (publish, ack): an error drops.
  Errc check_status(int status) noexcept;
  // A server-initiated close of the channel or the connection, seen in a frame.
  Errc closed_by_server(const amqp_frame_t &f, Errc not_found) noexcept;
  // The reply code of the last channel error (406 PRECONDITION_FAILED...).
  int last_code() const noexcept { return last_code_; }

  // Waits for the next frame on our channel until d (at least
  // kMinRoundTripMs). TIMEDOUT leaves the connection dropped: a frame may be
  // half read.
  Errc wait_frame(amqp_frame_t &f, const Deadline &d) noexcept;
  // Counts a publish; returns its delivery tag in confirm mode.
  uint64_t next_publish_tag() noexcept { return ++published_; }

  static constexpr int kMinRoundTripMs = 1000;
  static constexpr int kMaxRoundTripMs = 30000;

 private:
  Errc connect(const Deadline &d) noexcept;
  Errc open_channel(amqp_channel_t channel) noexcept;
  Errc reopen_channel(amqp_channel_t channel) noexcept;

  std::vector<char> url_;  // amqp_parse_url cuts it into the fields below
  amqp_connection_info info_{};
  ForkGuard fork_;
  amqp_connection_state_t conn_ = nullptr;
  uint64_t generation_ = 0;
  uint64_t published_ = 0;
  int last_code_ = 0;
};

}  // namespace fq
