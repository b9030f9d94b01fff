// The broker transport: a queue on RabbitMQ behind the same seam as the FIFO
// transport, through librabbitmq. How each call maps onto RabbitMQ, and why:
// core/broker.md.
#pragma once
#include <amqp.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "broker_connection.hpp"
#include "transport.hpp"

namespace fq {

class BrokerTransport final : public Transport {
 public:
  // Opens (with kCreate, declares) the queue `name` on the broker at `url`.
  static Errc open(const std::string &url, const std::string &name, int flags,
                   const OpenOptions &opts, std::unique_ptr<Transport> &out) noexcept;
  // Deletes the queue `name` and its policy; leaves name.dlq, the record.
  static Errc unlink(const std::string &url, const std::string &name) noexcept;

  Errc send(const iovec *iov, size_t iovcnt, const Deadline &d) noexcept override;
  Errc recv(void *buf, size_t cap, size_t *len, bool peek, const Deadline &d) noexcept override;
  Errc stats(Stats &out) noexcept override;
  Errc send_enveloped(const Envelope &env, const iovec *iov, size_t iovcnt,
                      const Deadline &d) noexcept override;
  Errc receive(Received &out, int lease_ms, const Deadline &d) noexcept override;
  Errc ack(Received &m) noexcept override;
  Errc retry(Received &m, const std::string &reason, int64_t delay_ms) noexcept override;
  Errc dead_letter(Received &m, const std::string &reason, bool permanent) noexcept override;
  Errc abandon(Received &m) noexcept override;
  Errc policy(Policy &out) noexcept override;
  Errc set_policy(const Policy &p) noexcept override;
  Errc task_done() noexcept override { return Errc::NOTSUP; }
  Errc join(const Deadline &) noexcept override { return Errc::NOTSUP; }
  int flags() const noexcept override { return flags_; }
  const std::string &name() const noexcept override { return name_; }

 private:
  // A delivery taken with basic.get and not yet acknowledged.
  struct Delivery {
    Received r;
    uint64_t tag = 0;
    bool in_dest = false;  // the body went straight into the caller's buffer, not r.data
  };

  BrokerTransport(std::string name, int flags, const Limits &limits)
      : name_(std::move(name)), flags_(flags), max_msg_(limits.max_msg), wanted_(limits) {}

  // Queue declarations; `args` empty for a passive one.
  Errc declare(const std::string &queue, bool passive, const amqp_table_t &args,
               amqp_queue_declare_ok_t *ok, const Deadline &d) noexcept;
  Errc declare_main(bool create, const Deadline &d) noexcept;
  // The main queue's arguments for the room in wanted_.
  std::vector<amqp_table_entry_t> main_args() const;
  Errc declare_companion(const std::string &queue, std::vector<amqp_table_entry_t> args) noexcept;
  // Publishes to `queue` and waits for the broker's confirm.
  Errc publish(const std::string &queue, const Envelope *env, const amqp_bytes_t &body,
               const Deadline &d) noexcept;
  // Takes the next message (the parked one first), waiting until d. A body
  // that fits `dest` (cap bytes; null: none) is read into it, not r.data.
  Errc take(std::unique_lock<std::mutex> &lock, Delivery &out, const Deadline &d,
            void *dest = nullptr, size_t cap = 0) noexcept;
  Errc get_once(Delivery &out, bool &empty, const Deadline &d, void *dest, size_t cap) noexcept;
  Errc read_content(Delivery &out, const Deadline &d, void *dest = nullptr,
                    size_t cap = 0) noexcept;
  Errc settle(uint64_t tag, bool requeue,
              amqp_channel_t channel = BrokerConnection::kChannel) noexcept;
  // The generation-tagged lease handle of a delivery, and back.
  uint64_t lease_of(uint64_t tag) const noexcept;
  bool lease_current(const Received &m) noexcept;
  void forget_lease(Received &m) noexcept;
  Errc republish(Received &m, const std::string &queue, const Envelope &env) noexcept;
  Errc read_policy(Policy &out) noexcept;

  const std::string name_;
  const std::string dlq_name_ = name_ + ".dlq";
  const int flags_;
  const uint64_t max_msg_;
  const Limits wanted_;      // the room asked for at open (defaults if not)
  bool room_known_ = false;  // the queue's room is wanted_'s (stats report it)
  std::mutex mutex_;         // one connection: the handle's threads take turns
  BrokerConnection conn_;
  bool has_parked_ = false;  // a message taken for peek or TOOSMALL, kept for our next receive
  Delivery parked_;
  uint64_t leased_ = 0;  // unacknowledged leases of this handle
  // This handle's counts: RabbitMQ keeps rates per queue, not totals.
  Stats counts_;
  std::map<std::string, int64_t> declared_;  // companions declared, and when (monotonic ns)
  Policy policy_{};
  int64_t policy_read_ns_ = 0;  // when policy_ was last read (0: never)
};

}  // namespace fq
