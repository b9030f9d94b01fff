/* fq against the floor it is built on, side by side in one run.
 *
 * The floor is a bare length-prefixed FIFO: a 4-byte length and the payload,
 * written with one writev and read with two read loops, no framing checks,
 * its pipe enlarged to 1 MiB as fq's is. With several senders or receivers it
 * needs locks to keep messages whole: flock on one lock file for the senders
 * and another for the receivers, each held around one whole message; fq needs
 * none. Every process is a real forked process; they start together on a
 * pipe, never on a sleep. Every receiver counts and checks what it gets; a run
 * that loses or corrupts a message, or whose child fails, is reported on
 * stderr and makes the exit status 1. Speed never fails a run.
 *
 *   fq_bench [--reps N] [--seconds S] [--quick] [--sizes 64,4096,...]
 *
 * Each point is calibrated separately for fq and for the floor (a short run,
 * grown until it lasts a tenth of the budget), so every timed run lasts about
 * --seconds (default 1) whichever is faster; the message count is fixed before
 * a run starts. The table shows the median of --reps runs (default 5). --quick
 * is one run of about 0.3 s per point, for smoke tests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fq.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PROCS = 8, MAX_REPS = 64, MAX_SIZES = 16 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

/* ---- the two contenders, behind one small interface ---- */

typedef struct {
  int fd, lock_fd; /* floor */
  fq_queue *q;     /* fq */
  int locked;      /* floor: several peers share an end */
} peer;

static int read_full(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, struct iovec *iov, int cnt) {
  while (cnt > 0) {
    ssize_t w = writev(fd, iov, cnt);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    while (cnt > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      ++iov;
      --cnt;
    }
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

static void lock_or_die(int fd, int op) {
  while (flock(fd, op) != 0)
    if (errno != EINTR) die("flock");
}

static void peer_open(peer *p, int is_fq, const char *path, int writer, int locked) {
  memset(p, 0, sizeof *p);
  p->fd = p->lock_fd = -1;
  p->locked = locked;
  if (is_fq) {
    int rc = fq_open(path, writer ? FQ_WRITE : FQ_READ, &p->q);
    if (rc != 0) {
      fprintf(stderr, "fq_open %s: %s\n", path, fq_strerror(rc));
      exit(2);
    }
    return;
  }
  /* O_RDWR: opening never blocks on the other side, as with fq. */
  p->fd = open(path, O_RDWR);
  if (p->fd < 0) die("open floor fifo");
  if (fcntl(p->fd, F_SETPIPE_SZ, 1 << 20) < 0) die("F_SETPIPE_SZ");
  if (locked) {
    char lock[512];
    snprintf(lock, sizeof lock, "%s.%s.lock", path, writer ? "w" : "r");
    p->lock_fd = open(lock, O_RDWR | O_CREAT, 0600);
    if (p->lock_fd < 0) die("open lock");
  }
}

static void peer_send(peer *p, const void *msg, uint32_t len) {
  if (p->q) {
    int rc = fq_send(p->q, msg, len);
    if (rc != 0) {
      fprintf(stderr, "fq_send: %s\n", fq_strerror(rc));
      exit(2);
    }
    return;
  }
  struct iovec iov[2] = {{&len, 4}, {(void *)msg, len}};
  if (p->locked) lock_or_die(p->lock_fd, LOCK_EX);
  if (write_full(p->fd, iov, 2) != 0) die("floor write");
  if (p->locked) lock_or_die(p->lock_fd, LOCK_UN);
}

static uint32_t peer_recv(peer *p, void *buf, size_t cap) {
  if (p->q) {
    size_t len;
    int rc = fq_recv(p->q, buf, cap, &len);
    if (rc != 0) {
      fprintf(stderr, "fq_recv: %s\n", fq_strerror(rc));
      exit(2);
    }
    return (uint32_t)len;
  }
  uint32_t len;
  if (p->locked) lock_or_die(p->lock_fd, LOCK_EX);
  if (read_full(p->fd, &len, 4) != 0) die("floor read");
  if (len > cap) {
    fprintf(stderr, "floor read: length %u exceeds %zu: the stream is corrupt\n", len, cap);
    exit(2);
  }
  if (read_full(p->fd, buf, len) != 0) die("floor read");
  if (p->locked) lock_or_die(p->lock_fd, LOCK_UN);
  return len;
}

static void peer_close(peer *p) {
  if (p->q) fq_close(p->q);
  if (p->fd >= 0) close(p->fd);
  if (p->lock_fd >= 0) close(p->lock_fd);
}

static const char *impl_name(int is_fq) { return is_fq ? "fq" : "floor"; }

/* Reaps one child; 0 if it exited with status 0. */
static int reap(pid_t pid, const char *who) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (WIFSIGNALED(st))
    fprintf(stderr, "%s (pid %d) killed by signal %d\n", who, (int)pid, WTERMSIG(st));
  else
    fprintf(stderr, "%s (pid %d) exited with status %d\n", who, (int)pid, WEXITSTATUS(st));
  return -1;
}

/* ---- a throughput run: S senders, R receivers, `count` messages each sender ---- */

typedef struct {
  uint64_t msgs, bad;
} tally;

/* Message i of sender s (len >= 8): [s:u32][i:u32] ... last byte (uint8_t)i. */
static void stamp(unsigned char *m, uint32_t len, uint32_t s, uint32_t i) {
  memcpy(m, &s, 4);
  memcpy(m + 4, &i, 4);
  m[len - 1] = (unsigned char)i;
}

/* A child says it is ready, closes its end (so the parent sees EOF rather than
 * waiting forever if a sibling dies first) and waits for the common start. */
static void start_gate(int ready_w, int go_r) {
  char c = 1;
  if (write(ready_w, &c, 1) != 1) die("gate");
  close(ready_w);
  if (read(go_r, &c, 1) != 1) die("gate");
}

static void receiver_main(int is_fq, const char *path, uint32_t size, int locked, int ready_w,
                          int go_r, int results_w) {
  peer p;
  tally t = {0, 0};
  uint32_t last[MAX_PROCS];
  unsigned char *buf = malloc(size);
  if (!buf) die("malloc");
  memset(last, 0xff, sizeof last);
  peer_open(&p, is_fq, path, 0, locked);
  start_gate(ready_w, go_r);
  for (;;) {
    uint32_t len = peer_recv(&p, buf, size), s = 0, seq = 0;
    if (len == 0) break; /* end marker */
    if (len == size) {
      memcpy(&s, buf, 4);
      memcpy(&seq, buf + 4, 4);
    }
    /* Per sender, a receiver sees increasing sequence numbers. */
    if (len != size || s >= MAX_PROCS || buf[len - 1] != (unsigned char)seq ||
        (last[s] != UINT32_MAX && seq <= last[s]))
      ++t.bad;
    last[s < MAX_PROCS ? s : 0] = seq;
    ++t.msgs;
  }
  if (write(results_w, &t, sizeof t) != sizeof t) die("result");
  peer_close(&p);
  free(buf);
  _exit(0);
}

static void sender_main(int is_fq, const char *path, uint32_t size, int locked, uint32_t id,
                        uint32_t count, int ready_w, int go_r) {
  peer p;
  unsigned char *m = calloc(1, size);
  uint32_t k;
  if (!m) die("calloc");
  peer_open(&p, is_fq, path, 1, locked);
  start_gate(ready_w, go_r);
  for (k = 0; k < count; ++k) {
    stamp(m, size, id, k);
    peer_send(&p, m, size);
  }
  peer_close(&p);
  free(m);
  _exit(0);
}

/* Returns messages per second, or 0 and *failed = 1 if a message was lost or
 * corrupted or a child failed. */
static double run_throughput(int is_fq, const char *path, uint32_t size, int senders, int receivers,
                             uint32_t count, int *failed) {
  int ready[2], go[2], results[2];
  pid_t kids[2 * MAX_PROCS]; /* receivers first, then senders; 0 once reaped */
  int n = 0, i, broken = 0;
  *failed = 0;
  if (pipe(ready) || pipe(go) || pipe(results)) die("pipe");
  peer keeper; /* holds the queue for the whole run and sends the end markers */
  peer_open(&keeper, is_fq, path, 1, receivers > 1);
  fflush(NULL); /* nothing buffered is written twice by a child */

  for (i = 0; i < receivers; ++i) {
    if ((kids[n++] = fork()) == 0) {
      close(ready[0]), close(go[1]), close(results[0]);
      receiver_main(is_fq, path, size, receivers > 1, ready[1], go[0], results[1]);
    } else if (kids[n - 1] < 0) {
      die("fork");
    }
  }
  for (i = 0; i < senders; ++i) {
    if ((kids[n++] = fork()) == 0) {
      close(ready[0]), close(go[1]), close(results[0]), close(results[1]);
      sender_main(is_fq, path, size, senders > 1, (uint32_t)i, count, ready[1], go[0]);
    } else if (kids[n - 1] < 0) {
      die("fork");
    }
  }
  /* The parent keeps only its own ends: a child that dies early then shows
   * as EOF on `ready` or `results` instead of a wait forever. */
  close(ready[1]), close(go[0]), close(results[1]);
  char c = 1;
  for (i = 0; i < n && !broken; ++i)
    if (read(ready[0], &c, 1) != 1) broken = 1;
  const double t0 = now_s();
  for (i = 0; i < n && !broken; ++i)
    if (write(go[1], &c, 1) != 1) die("go");
  close(go[1]); /* if broken, the children see EOF at the gate and quit */

  /* Reap the senders as they finish. A receiver never exits before its end
   * marker, and end markers go out only once every sender is done: so a
   * receiver reaped here, or any child that failed, means the run is broken,
   * and waiting on would hang on a pipe nobody drains. */
  for (int left = broken ? 0 : senders; left > 0;) {
    int st;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      die("waitpid");
    }
    for (i = 0; i < n && kids[i] != pid; ++i) {
    }
    if (i == n) continue; /* not ours */
    kids[i] = 0;
    if (i < receivers || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "%s: a %s (pid %d) ended early, status 0x%x\n", impl_name(is_fq),
              i < receivers ? "receiver" : "sender", (int)pid, (unsigned)st);
      broken = 1;
      break;
    }
    --left;
  }
  uint64_t got = 0, bad = 0;
  double t1 = t0;
  if (!broken) {
    for (i = 0; i < receivers; ++i) peer_send(&keeper, "", 0);
    for (i = 0; i < receivers && !broken; ++i) {
      tally t;
      if (read(results[0], &t, sizeof t) != sizeof t) {
        fprintf(stderr, "%s: a receiver died without reporting\n", impl_name(is_fq));
        broken = 1;
        break;
      }
      got += t.msgs;
      bad += t.bad;
    }
    t1 = now_s();
  }
  if (broken) /* only processes this run forked, by pid */
    for (i = 0; i < n; ++i)
      if (kids[i] > 0) kill(kids[i], SIGKILL);
  for (i = 0; i < n; ++i)
    if (kids[i] > 0 && reap(kids[i], impl_name(is_fq)) != 0 && !broken) broken = 1;
  peer_close(&keeper);
  close(ready[0]), close(results[0]);
  const uint64_t sent = (uint64_t)senders * count;
  if (broken || got != sent || bad != 0) {
    fprintf(stderr, "%s, %u B, %dx%d: LOST OR CORRUPT: sent %llu, received %llu, bad %llu%s\n",
            impl_name(is_fq), size, senders, receivers, (unsigned long long)sent,
            (unsigned long long)got, (unsigned long long)bad, broken ? ", run broken" : "");
    *failed = 1;
    return 0;
  }
  return (double)sent / (t1 - t0);
}

/* ---- latency: ping-pong of 64 B over two queues ---- */

enum { PING_LEN = 64 };

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Both sides of the ping-pong run on one CPU. On these VMs a wakeup across
 * CPUs costs about 60 µs whenever the other vCPU is idle, and the scheduler's
 * placement decides which runs get it: unpinned, p50 jumps between 3 and 70 µs
 * for the floor and fq alike. Pinned, the numbers measure the queues. */
static void pin_to_one_cpu(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu(), &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

/* The echo side: sends back every message; byte 4 set marks the last. */
static void echo_main(int is_fq, const char *ping, const char *pong) {
  peer in, out;
  unsigned char buf[PING_LEN];
  peer_open(&in, is_fq, ping, 0, 0);
  peer_open(&out, is_fq, pong, 1, 0);
  for (;;) {
    const uint32_t len = peer_recv(&in, buf, sizeof buf);
    peer_send(&out, buf, len);
    if (len != PING_LEN || buf[4]) break;
  }
  peer_close(&in), peer_close(&out);
  _exit(0);
}

/* Ping-pongs for about `seconds` (at least 100 rounds); the stop is a flag in
 * the last message, so the echo side needs no count. Returns 0, or -1 if an
 * echo came back wrong or the echo process failed. */
static int run_latency(int is_fq, const char *ping, const char *pong, double seconds, double *p50,
                       double *p99) {
  peer keep_ping, keep_pong;
  cpu_set_t all;
  int bad = 0;
  if (sched_getaffinity(0, sizeof all, &all) != 0) die("sched_getaffinity");
  pin_to_one_cpu(); /* the child inherits it */
  peer_open(&keep_ping, is_fq, ping, 1, 0);
  peer_open(&keep_pong, is_fq, pong, 1, 0);
  fflush(NULL);
  pid_t echo = fork();
  if (echo < 0) die("fork");
  if (echo == 0) echo_main(is_fq, ping, pong);
  peer out, in;
  unsigned char msg[PING_LEN] = {0}, back[PING_LEN];
  size_t cap = 1 << 16, rounds = 0;
  double *rtt = malloc(sizeof(double) * cap);
  if (!rtt) die("malloc");
  peer_open(&out, is_fq, ping, 1, 0);
  peer_open(&in, is_fq, pong, 0, 0);
  const double start = now_s();
  for (uint32_t k = 0;; ++k) {
    memcpy(msg, &k, 4);
    msg[PING_LEN - 1] = (unsigned char)k;
    const double t0 = now_s();
    peer_send(&out, msg, sizeof msg);
    const uint32_t len = peer_recv(&in, back, sizeof back);
    const double t1 = now_s();
    if (len != PING_LEN || memcmp(msg, back, PING_LEN) != 0) ++bad;
    if (rounds == cap) {
      cap *= 2;
      rtt = realloc(rtt, sizeof(double) * cap);
      if (!rtt) die("realloc");
    }
    rtt[rounds++] = t1 - t0;
    if (t1 - start >= seconds && rounds >= 100) break;
  }
  msg[4] = 1; /* the last one: the echo side stops after sending it back */
  peer_send(&out, msg, sizeof msg);
  if (peer_recv(&in, back, sizeof back) != PING_LEN || memcmp(msg, back, PING_LEN) != 0) ++bad;
  if (reap(echo, "echo") != 0) ++bad;
  if (sched_setaffinity(0, sizeof all, &all) != 0) die("sched_setaffinity");
  qsort(rtt, rounds, sizeof *rtt, cmp_double);
  *p50 = rtt[rounds / 2] * 1e6;
  *p99 = rtt[(size_t)((double)rounds * 0.99)] * 1e6;
  free(rtt);
  peer_close(&out), peer_close(&in), peer_close(&keep_ping), peer_close(&keep_pong);
  if (bad) {
    fprintf(stderr, "%s, ping-pong: LOST OR CORRUPT: %d bad echoes over %zu rounds\n",
            impl_name(is_fq), bad, rounds);
    return -1;
  }
  return 0;
}

/* ---- driver ---- */

typedef struct {
  const char *dir; /* fresh, from mkdtemp */
  int reps;
  double seconds;
  int failed; /* some run lost or corrupted messages */
} bench;

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void make_queue(const bench *b, char *out, size_t cap, int is_fq, const char *name) {
  snprintf(out, cap, "%s/%s-%s", b->dir, impl_name(is_fq), name);
  if (is_fq) {
    fq_queue *q;
    int rc = fq_open(out, FQ_WRITE | FQ_CREATE, &q);
    if (rc != 0) {
      fprintf(stderr, "fq_open %s: %s\n", out, fq_strerror(rc));
      exit(2);
    }
    fq_close(q);
  } else if (mkfifo(out, 0600) != 0) {
    die("mkfifo");
  }
}

static void remove_queue(const char *path, int is_fq) {
  char lock[600];
  if (is_fq) {
    int rc = fq_unlink(path);
    if (rc != 0) fprintf(stderr, "fq_unlink %s: %s\n", path, fq_strerror(rc));
    return;
  }
  unlink(path);
  snprintf(lock, sizeof lock, "%s.w.lock", path), unlink(lock);
  snprintf(lock, sizeof lock, "%s.r.lock", path), unlink(lock);
}

/* One throughput run on a fresh queue. */
static double throughput_once(bench *b, int is_fq, uint32_t size, int senders, int receivers,
                              uint32_t count) {
  char path[512];
  int failed;
  make_queue(b, path, sizeof path, is_fq, "tp");
  const double rate = run_throughput(is_fq, path, size, senders, receivers, count, &failed);
  remove_queue(path, is_fq);
  b->failed |= failed;
  return rate;
}

/* Messages per sender so that one run of `is_fq` lasts about b->seconds: from
 * a probe run grown until it lasts a tenth of that. */
static uint32_t calibrate(bench *b, int is_fq, uint32_t size, int senders, int receivers) {
  const double want = b->seconds / 10;
  double probe = (double)((4u << 20) / size) / senders, rate;
  if (probe < 8) probe = 8;
  for (;;) {
    rate = throughput_once(b, is_fq, size, senders, receivers, (uint32_t)probe);
    if (rate <= 0) return 16; /* the run failed: already reported */
    const double took = probe * senders / rate;
    if (took >= want || probe >= 1e7) break;
    probe *= took * 16 < want ? 16 : want / took * 1.5;
  }
  double n = rate * b->seconds / senders;
  if (n < 16) n = 16;
  if (n > 4e7) n = 4e7;
  return (uint32_t)n;
}

static void throughput_row(bench *b, const char *label, uint32_t size, int senders, int receivers) {
  double rate[2][MAX_REPS], lo[2], hi[2], med[2];
  uint32_t count[2];
  int r, impl;
  for (impl = 0; impl < 2; ++impl) count[impl] = calibrate(b, impl, size, senders, receivers);
  for (r = 0; r < b->reps; ++r) /* alternate, so drift hits both alike */
    for (impl = 0; impl < 2; ++impl)
      rate[impl][r] = throughput_once(b, impl, size, senders, receivers, count[impl]);
  for (impl = 0; impl < 2; ++impl) {
    lo[impl] = hi[impl] = rate[impl][0];
    for (r = 1; r < b->reps; ++r) {
      if (rate[impl][r] < lo[impl]) lo[impl] = rate[impl][r];
      if (rate[impl][r] > hi[impl]) hi[impl] = rate[impl][r];
    }
    med[impl] = median(rate[impl], b->reps);
  }
  const double fq = med[1], fl = med[0];
  printf("| %s | %.0f | %.0f | %.0f | %.0f | **%.2fx** | %.0f–%.0f / %.0f–%.0f |\n", label, fq,
         fq * size / 1e6, fl, fl * size / 1e6, fl > 0 ? fq / fl : 0.0, lo[1], hi[1], lo[0], hi[0]);
  fflush(stdout);
}

static void latency_rows(bench *b) {
  double p50[2][MAX_REPS], p99[2][MAX_REPS];
  int r, impl;
  for (r = 0; r < b->reps; ++r) {
    for (impl = 0; impl < 2; ++impl) {
      char ping[512], pong[512];
      make_queue(b, ping, sizeof ping, impl, "ping");
      make_queue(b, pong, sizeof pong, impl, "pong");
      if (run_latency(impl, ping, pong, b->seconds, &p50[impl][r], &p99[impl][r]) != 0)
        b->failed = 1;
      remove_queue(ping, impl);
      remove_queue(pong, impl);
    }
  }
  const double f50 = median(p50[1], b->reps), l50 = median(p50[0], b->reps);
  const double f99 = median(p99[1], b->reps), l99 = median(p99[0], b->reps);
  printf("\n| round trip, 64 B, both ends on one CPU | fq µs | floor µs | fq/floor |\n");
  printf("| --- | ---: | ---: | ---: |\n");
  printf("| p50 | %.1f | %.1f | **%.2fx** |\n", f50, l50, f50 / l50);
  printf("| p99 | %.1f | %.1f | **%.2fx** |\n", f99, l99, f99 / l99);
}

static void size_label(char *out, size_t cap, uint32_t size) {
  if (size >= (1u << 20) && size % (1u << 20) == 0)
    snprintf(out, cap, "1→1, %u MiB", size >> 20);
  else if (size >= 1024 && size % 1024 == 0)
    snprintf(out, cap, "1→1, %u KiB", size >> 10);
  else
    snprintf(out, cap, "1→1, %u B", size);
}

static int usage(void) {
  fprintf(stderr,
          "usage: fq_bench [--reps N] [--seconds S] [--quick] [--sizes a,b,...]\n"
          "  --reps N     runs per point, median shown (1..%d, default 5)\n"
          "  --seconds S  length of each run (default 1)\n"
          "  --quick      1 run of 0.3 s per point: a smoke test\n"
          "  --sizes      1-to-1 message sizes in bytes, 8..64 MiB (default "
          "64,4096,65536,1048576,8388608)\n",
          MAX_REPS);
  return 2;
}

int main(int argc, char **argv) {
  char dir[] = "/tmp/fq-bench-XXXXXX";
  bench b = {dir, 5, 1.0, 0};
  uint32_t sizes[MAX_SIZES] = {64, 4096, 65536, 1u << 20, 8u << 20};
  int nsizes = 5, i;
  for (i = 1; i < argc; ++i) {
    char *end;
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      const long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > MAX_REPS) return usage();
      b.reps = (int)v;
    } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
      b.seconds = strtod(argv[++i], &end);
      if (*end || !(b.seconds > 0 && b.seconds < 3600)) return usage();
    } else if (!strcmp(argv[i], "--quick")) {
      b.reps = 1;
      b.seconds = 0.3;
    } else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      char *s = argv[++i];
      for (nsizes = 0; *s; ++nsizes) {
        /* 8 holds the sender and sequence stamp; 64 MiB is fq's default max_msg. */
        const unsigned long v = strtoul(s, &end, 0);
        if (end == s || (*end && *end != ',') || v < 8 || v > (64ul << 20) || nsizes == MAX_SIZES)
          return usage();
        sizes[nsizes] = (uint32_t)v;
        s = *end ? end + 1 : end;
      }
      if (nsizes == 0) return usage();
    } else {
      return usage();
    }
  }
  if (!mkdtemp(dir)) die("mkdtemp");
  signal(SIGPIPE, SIG_IGN); /* a dead reader shows as EPIPE, reported, not a silent death */

  struct utsname u;
  if (uname(&u) != 0) die("uname");
  FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
  unsigned long pipe_max = 0;
  if (f) {
    if (fscanf(f, "%lu", &pipe_max) != 1) pipe_max = 0;
    fclose(f);
  }
  printf("fq %d vs a bare length-prefixed FIFO; %ld CPUs, Linux %s, pipe-max-size %lu;\n",
         fq_version(), sysconf(_SC_NPROCESSORS_ONLN), u.release, pipe_max);
  printf("median of %d runs of about %.1f s each; range is min–max of fq / floor; MB = 10^6 B\n\n",
         b.reps, b.seconds);
  printf("| workload | fq msg/s | fq MB/s | floor msg/s | floor MB/s | fq/floor | range msg/s |\n");
  printf("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
  fflush(stdout);
  for (i = 0; i < nsizes; ++i) {
    char label[64];
    size_label(label, sizeof label, sizes[i]);
    throughput_row(&b, label, sizes[i], 1, 1);
  }
  throughput_row(&b, "4→4, 4 KiB", 4096, 4, 4);
  latency_rows(&b);
  if (rmdir(dir) != 0) perror(dir);
  if (b.failed) {
    printf("\nSOME RUN LOST OR CORRUPTED MESSAGES: see stderr\n");
    return 1;
  }
  return 0;
}
