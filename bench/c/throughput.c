/* A throughput run. Receivers never learn how many messages to expect (with
 * several receivers nobody knows how they will be shared out): each counts
 * what it gets in shared memory, and the parent watches the total. The run
 * ends when every message has arrived (its time is then) and every sender has
 * exited, or when nothing has arrived for a while (some were lost). The
 * receivers, blocked waiting for more, are then killed, and reaped for their
 * resource use like the senders. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

enum { MAX_PROCS = 16 };

/* Without news for this long the run is over: messages were lost, or (while
 * senders still run) it is stuck. */
static const double quiet_after_senders_s = 2, quiet_while_sending_s = 10;

typedef struct {
  _Atomic uint64_t msgs, bad;
  char pad[48]; /* one cache line per receiver */
} tally;

/* Message k of sender s: [s:u32][k:u32] ... its last byte (uint8_t)k. */
static void stamp(unsigned char *m, uint32_t len, uint32_t s, uint32_t k) {
  memcpy(m, &s, 4);
  memcpy(m + 4, &k, 4);
  m[len - 1] = (unsigned char)k;
}

/* Whole, from a known sender, and after the last one from that sender. */
static int valid(const unsigned char *m, uint32_t len, uint32_t size, int senders, uint32_t *last) {
  uint32_t s, k;
  if (len != size) return 0;
  memcpy(&s, m, 4);
  memcpy(&k, m + 4, 4);
  if (s >= (uint32_t)senders || m[len - 1] != (unsigned char)k) return 0;
  if (last[s] != UINT32_MAX && k <= last[s]) return 0;
  last[s] = k;
  return 1;
}

static void receiver_main(const bench_peer *p, void *chan, int index, uint32_t size, int senders,
                          tally *t, bench_gate *g) {
  uint32_t last[MAX_PROCS], len;
  unsigned char *buf = malloc(size);
  if (!buf) bench_die("malloc");
  memset(last, 0xff, sizeof last);
  void *end = p->open(chan, 0, index);
  gate_child_wait(g); /* receivers open first */
  gate_child_wait(g);
  for (uint64_t n = 1;; ++n) {
    const unsigned char *m = p->recv(end, buf, size, &len);
    if (!valid(m, len, size, senders, last))
      atomic_fetch_add_explicit(&t->bad, 1, memory_order_relaxed);
    atomic_store_explicit(&t->msgs, n, memory_order_release);
  }
}

static void sender_main(const bench_peer *p, void *chan, int index, uint32_t size, uint64_t count,
                        bench_gate *g) {
  unsigned char *m = calloc(1, size);
  if (!m) bench_die("calloc");
  gate_child_wait(g);
  void *end = p->open(chan, 1, index);
  gate_child_wait(g);
  for (uint64_t k = 0; k < count; ++k) {
    stamp(m, size, (uint32_t)index, (uint32_t)k);
    p->send(end, m, size);
  }
  p->close(end);
  _exit(0);
}

static uint64_t sum(tally *t, int n, int bad) {
  uint64_t s = 0;
  for (int i = 0; i < n; ++i)
    s += atomic_load_explicit(bad ? &t[i].bad : &t[i].msgs, memory_order_acquire);
  return s;
}

void run_throughput(const bench_peer *p, const char *dir, uint32_t size, int senders, int receivers,
                    uint64_t count, bench_result *out) {
  char path[512];
  pid_t kids[2 * MAX_PROCS]; /* receivers, then senders; 0 once reaped */
  int n = 0, senders_left = senders, failed = 0;
  snprintf(path, sizeof path, "%s/channel", dir);
  out->messages = (uint64_t)senders * count;
  void *chan = p->create(path, size, senders, receivers, &out->na, out->note, sizeof out->note);
  if (!chan) {
    out->status = "na";
    return;
  }
  tally *t = shared_alloc(sizeof(tally) * (size_t)receivers);
  bench_gate g;
  gate_init(&g);
  fflush(NULL); /* nothing buffered is written twice by a child */
  for (int r = 0; r < receivers; ++r)
    if ((kids[n++] = gate_fork(&g)) == 0) receiver_main(p, chan, r, size, senders, &t[r], &g);
  for (int s = 0; s < senders; ++s)
    if ((kids[n++] = gate_fork(&g)) == 0) sender_main(p, chan, s, size, count, &g);
  gate_open(&g, n); /* a child dead in the first stage shows in the second too */
  const double t0 = gate_open(&g, n);
  double t1 = 0, last_news = t0;
  uint64_t seen = 0;
  if (t0 < 0) failed = 1;
  while (!failed) {
    struct rusage ru;
    int st, i;
    pid_t pid;
    while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
      for (i = 0; i < n && kids[i] != pid; ++i) {
      }
      if (i == n) continue;
      kids[i] = 0;
      usage_add(i < receivers ? &out->recv : &out->send, &ru);
      if (i < receivers || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: a %s ended early, status 0x%x\n", p->name,
                i < receivers ? "receiver" : "sender", (unsigned)st);
        failed = 1;
      }
      if (i >= receivers) --senders_left;
    }
    const double now = now_s();
    const uint64_t got = sum(t, receivers, 0);
    if (got != seen) seen = got, last_news = now;
    if (got >= out->messages && t1 == 0) t1 = now;
    if (failed || (t1 > 0 && senders_left == 0)) break;
    if (now - last_news > (senders_left ? quiet_while_sending_s : quiet_after_senders_s)) break;
    nanosleep(&(struct timespec){0, 1000000}, NULL); /* 1 ms: the resolution of the run's end */
  }
  for (int i = 0; i < n; ++i) /* only this run's children, by pid */
    if (kids[i] > 0) kill(kids[i], SIGKILL);
  for (int i = 0; i < n; ++i) {
    struct rusage ru;
    int st;
    while (kids[i] > 0 && wait4(kids[i], &st, 0, &ru) < 0)
      if (errno != EINTR) bench_die("wait4");
    if (kids[i] > 0) usage_add(i < receivers ? &out->recv : &out->send, &ru);
  }
  out->received = sum(t, receivers, 0);
  out->bad = sum(t, receivers, 1);
  out->seconds = (t1 > 0 ? t1 : now_s()) - t0;
  p->destroy(chan);
  if (failed || senders_left > 0)
    out->status = "error";
  else if (out->received < out->messages)
    out->status = "lost";
  else if (out->bad > 0 || out->received > out->messages)
    out->status = "corrupt";
  else
    out->status = "ok";
}
