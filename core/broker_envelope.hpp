// A message's envelope as AMQP headers, for the broker transport: fq's own
// x-fq-* fields, plus what RabbitMQ adds itself (x-delivery-count on a
// quorum queue's redeliveries, x-death when it dead-letters). Field list:
// core/broker.md, "Mapping".
#pragma once
#include <amqp.h>

#include <vector>

#include "envelope.hpp"

namespace fq {

// The headers of `env`, to publish with. Refers to env's strings: keep env
// alive and unchanged while the table is in use.
class EnvelopeHeaders {
 public:
  explicit EnvelopeHeaders(const Envelope &env);
  EnvelopeHeaders(const EnvelopeHeaders &) = delete;
  EnvelopeHeaders &operator=(const EnvelopeHeaders &) = delete;
  const amqp_table_t &table() const noexcept { return table_; }

 private:
  std::vector<amqp_table_entry_t> entries_;
  amqp_table_t table_;
};

// The envelope of a delivered message. attempts counts this delivery: the
// deliveries before it was last published, the broker's redeliveries since,
// plus one. Deaths include those the broker recorded in x-death (not the
// "expired" ones: those are retries coming back from a delay queue).
// May throw bad_alloc.
void envelope_from_headers(const amqp_table_t &headers, Envelope &env);

}  // namespace fq
