#include "broker_envelope.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace fq {
namespace {

amqp_table_entry_t int_entry(const char *key, int64_t v) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;  // RabbitMQ reads signed kinds only
  e.value.value.i64 = v;
  return e;
}

amqp_table_entry_t text_entry(const char *key, const std::string &s, size_t max) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes.len = std::min(s.size(), max);
  e.value.value.bytes.bytes = const_cast<char *>(s.data());
  return e;
}

bool key_is(const amqp_table_entry_t &e, const char *key) {
  const size_t n = std::strlen(key);
  return e.key.len == n && std::memcmp(e.key.bytes, key, n) == 0;
}

// Any integer kind: RabbitMQ and other clients do not agree on one.
int64_t as_int(const amqp_field_value_t &v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      return int64_t(v.value.u64);
    default:
      return 0;
  }
}

std::string as_text(const amqp_field_value_t &v) {
  if (v.kind != AMQP_FIELD_KIND_UTF8 && v.kind != AMQP_FIELD_KIND_BYTES) return {};
  return std::string(static_cast<const char *>(v.value.bytes.bytes), v.value.bytes.len);
}

// One entry of x-death: RabbitMQ's record of the times it dead-lettered the
// message from one queue for one reason.
void add_broker_death(const amqp_table_t &death, Envelope &env) {
  int64_t count = 0, time_ms = 0;
  std::string reason, queue;
  for (int i = 0; i < death.num_entries; ++i) {
    const amqp_table_entry_t &e = death.entries[i];
    if (key_is(e, "count")) count = as_int(e.value);
    if (key_is(e, "reason")) reason = as_text(e.value);
    if (key_is(e, "queue")) queue = as_text(e.value);
    if (key_is(e, "time")) time_ms = as_int(e.value) * 1000;  // AMQP timestamps are seconds
  }
  if (reason == "expired" || count <= 0) return;  // a retry's delay, not a death
  env.deaths += uint32_t(count);
  if (env.origin.empty()) env.origin = queue;
  if (env.reason.empty()) env.reason = "broker: " + reason;
  if (env.first_death_ms == 0 || (time_ms != 0 && time_ms < env.first_death_ms)) {
    env.first_death_ms = time_ms;
  }
  env.last_death_ms = std::max(env.last_death_ms, time_ms);
}

}  // namespace

EnvelopeHeaders::EnvelopeHeaders(const Envelope &env) {
  entries_ = {
      int_entry("x-fq-attempts", env.attempts),
      int_entry("x-fq-deaths", env.deaths),
      int_entry("x-fq-flags", env.flags),
      int_entry("x-fq-enqueued", env.enqueued_ms),
      int_entry("x-fq-not-before", env.not_before_ms),
      int_entry("x-fq-first-death", env.first_death_ms),
      int_entry("x-fq-last-death", env.last_death_ms),
      text_entry("x-fq-origin", env.origin, Envelope::kMaxOrigin),
      text_entry("x-fq-reason", env.reason, Envelope::kMaxReason),
  };
  table_.num_entries = int(entries_.size());
  table_.entries = entries_.data();
}

void envelope_from_headers(const amqp_table_t &headers, Envelope &env) {
  env = Envelope{};
  int64_t redeliveries = 0;
  const amqp_array_t *deaths = nullptr;
  for (int i = 0; i < headers.num_entries; ++i) {
    const amqp_table_entry_t &e = headers.entries[i];
    if (key_is(e, "x-fq-attempts")) env.attempts = uint32_t(as_int(e.value));
    if (key_is(e, "x-fq-deaths")) env.deaths = uint32_t(as_int(e.value));
    if (key_is(e, "x-fq-flags")) env.flags = uint8_t(as_int(e.value));
    if (key_is(e, "x-fq-enqueued")) env.enqueued_ms = as_int(e.value);
    if (key_is(e, "x-fq-not-before")) env.not_before_ms = as_int(e.value);
    if (key_is(e, "x-fq-first-death")) env.first_death_ms = as_int(e.value);
    if (key_is(e, "x-fq-last-death")) env.last_death_ms = as_int(e.value);
    if (key_is(e, "x-fq-origin")) env.origin = as_text(e.value);
    if (key_is(e, "x-fq-reason")) env.reason = as_text(e.value);
    if (key_is(e, "x-delivery-count")) redeliveries = as_int(e.value);
    if (key_is(e, "x-death") && e.value.kind == AMQP_FIELD_KIND_ARRAY)
      deaths = &e.value.value.array;
  }
  env.attempts += uint32_t(redeliveries) + 1;
  if (env.origin.size() > Envelope::kMaxOrigin) env.origin.resize(Envelope::kMaxOrigin);
  if (env.reason.size() > Envelope::kMaxReason) env.reason.resize(Envelope::kMaxReason);
  for (int i = 0; deaths && i < deaths->num_entries; ++i) {
    if (deaths->entries[i].kind == AMQP_FIELD_KIND_TABLE) {
      add_broker_death(deaths->entries[i].value.table, env);
    }
  }
}

}  // namespace fq
