/* One timed run of a peer, and what it measured. */
#ifndef FQ_BENCH_RUN_H
#define FQ_BENCH_RUN_H

#include <stdint.h>

#include "peer.h"
#include "procs.h"

typedef struct {
  const char *status; /* "ok", "na", "lost" (fewer arrived), "corrupt", "error" */
  const char *na;     /* why, for "na" */
  char note[256];     /* a limit the peer raised to run, if any */
  uint64_t messages, received, bad;
  double seconds;        /* from the common start to the last message received */
  side_usage send, recv; /* senders' and receivers' CPU and peak RSS */
  double p50_us, p99_us; /* latency runs: round trips */
} bench_result;

/* `senders` processes send `count` messages of `size` bytes each to
 * `receivers` processes; every message is counted and checked. */
void run_throughput(const bench_peer *p, const char *dir, uint32_t size, int senders, int receivers,
                    uint64_t count, bench_result *out);

/* Ping-pong of 64-byte messages over two channels for about `seconds`. */
void run_latency(const bench_peer *p, const char *dir, double seconds, bench_result *out);

#endif
