/* A latency run: a pinger sends 64 bytes, an echo process sends them back on
 * a second channel, for about the given time; the round trips' p50 and p99.
 * Both are children, so that both sides' resource use is measured alike.
 *
 * Both run on one CPU. On these VMs a wakeup across CPUs costs about 60 us
 * whenever the other vCPU is idle, and the scheduler's placement decides which
 * runs get it: unpinned, p50 jumps between 3 and 70 us for any peer alike.
 * Pinned, the numbers measure the queues. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

enum { PING = 64 };

typedef struct {
  double p50_us, p99_us;
  uint64_t rounds, bad;
} pings;

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sends back every message; byte 4 set marks the last. */
static void echo_main(const bench_peer *p, void *ping, void *pong, bench_gate *g) {
  unsigned char buf[PING];
  uint32_t len;
  void *in = p->open(ping, 0, 0);
  gate_child_wait(g); /* receiving ends open first */
  void *out = p->open(pong, 1, 0);
  gate_child_wait(g);
  for (;;) {
    const unsigned char *m = p->recv(in, buf, sizeof buf, &len);
    p->send(out, m, len);
    if (len != PING || m[4]) break;
  }
  p->close(in), p->close(out);
  _exit(0);
}

static void pinger_main(const bench_peer *p, void *ping, void *pong, double seconds, pings *res,
                        bench_gate *g) {
  unsigned char msg[PING] = {0}, buf[PING];
  uint32_t len;
  size_t cap = 1 << 16;
  double *rtt = malloc(sizeof *rtt * cap);
  if (!rtt) bench_die("malloc");
  void *in = p->open(pong, 0, 0);
  gate_child_wait(g);
  void *out = p->open(ping, 1, 0);
  gate_child_wait(g);
  const double start = now_s();
  for (uint32_t k = 0;; ++k) {
    memcpy(msg, &k, 4);
    msg[PING - 1] = (unsigned char)k;
    msg[4] = now_s() - start >= seconds && res->rounds >= 100; /* the last round */
    const double t0 = now_s();
    p->send(out, msg, sizeof msg);
    const unsigned char *back = p->recv(in, buf, sizeof buf, &len);
    const double t1 = now_s();
    if (len != PING || memcmp(back, msg, PING) != 0) ++res->bad;
    if (res->rounds == cap && !(rtt = realloc(rtt, sizeof *rtt * (cap *= 2)))) bench_die("realloc");
    rtt[res->rounds++] = t1 - t0;
    if (msg[4]) break;
  }
  qsort(rtt, res->rounds, sizeof *rtt, cmp_double);
  res->p50_us = rtt[res->rounds / 2] * 1e6;
  res->p99_us = rtt[(size_t)((double)res->rounds * 0.99)] * 1e6;
  p->close(out), p->close(in);
  _exit(0);
}

void run_latency(const bench_peer *p, const char *dir, double seconds, bench_result *out) {
  char path[2][512];
  void *chan[2];
  pid_t kids[2];
  cpu_set_t all, one;
  if (p->latency_na) {
    out->status = "na";
    out->na = p->latency_na;
    return;
  }
  snprintf(path[0], sizeof path[0], "%s/ping", dir);
  snprintf(path[1], sizeof path[1], "%s/pong", dir);
  for (int i = 0; i < 2; ++i) {
    chan[i] = p->create(path[i], PING, 1, 1, &out->na, out->note, sizeof out->note);
    if (!chan[i]) {
      if (i) p->destroy(chan[0]);
      out->status = "na";
      return;
    }
  }
  pings *res = shared_alloc(sizeof *res);
  if (sched_getaffinity(0, sizeof all, &all) != 0) bench_die("sched_getaffinity");
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) bench_die("sched_setaffinity");
  bench_gate g;
  gate_init(&g);
  fflush(NULL);
  if ((kids[0] = gate_fork(&g)) == 0) echo_main(p, chan[0], chan[1], &g);
  if ((kids[1] = gate_fork(&g)) == 0) pinger_main(p, chan[0], chan[1], seconds, res, &g);
  if (sched_setaffinity(0, sizeof all, &all) != 0) bench_die("sched_setaffinity");
  gate_open(&g, 2); /* a child dead in the first stage shows in the second too */
  const double t0 = gate_open(&g, 2);
  int failed = t0 < 0;
  for (int left = 2; left > 0;) { /* in either order: one failing must not leave us waiting */
    struct rusage ru;
    int st;
    const pid_t pid = wait4(-1, &st, 0, &ru);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) bench_die("wait4");
    const int i = pid == kids[1];
    if (pid != kids[i]) continue;
    --left;
    usage_add(i ? &out->send : &out->recv, &ru);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "%s: the %s ended with status 0x%x\n", p->name, i ? "pinger" : "echo",
              (unsigned)st);
      if (!failed) kill(kids[!i], SIGKILL); /* it would wait forever for the other */
      failed = 1;
    }
  }
  out->seconds = now_s() - t0;
  p->destroy(chan[0]), p->destroy(chan[1]);
  out->messages = out->received = res->rounds;
  out->bad = res->bad;
  out->p50_us = res->p50_us;
  out->p99_us = res->p99_us;
  out->status = failed ? "error" : res->bad ? "corrupt" : "ok";
}
