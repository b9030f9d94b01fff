/* fq against the floor it is built on, side by side in one run.
 *
 * The floor is a bare length-prefixed FIFO: a 4-byte length and the payload,
 * written with one writev and read with two read loops, no framing checks,
 * its pipe enlarged to 1 MiB as fq's is. With several senders or receivers it
 * needs locks to keep messages whole (flock on a lock file around each
 * message); fq needs none. Every process is a real forked process; they start
 * together on a pipe, never on a sleep. Every receiver counts and checks what
 * it gets, and a run that loses or corrupts a message is reported as such.
 *
 *   fq_bench [--reps N] [--seconds S] [--quick] [--sizes 64,4096,...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fq.h>
#include <sched.h>
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

enum { MAX_PROCS = 8 };

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
  const char *name;
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

static void peer_open(peer *p, int is_fq, const char *path, int writer, int locked) {
  memset(p, 0, sizeof *p);
  p->name = is_fq ? "fq" : "floor";
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
  if (p->locked) flock(p->lock_fd, LOCK_EX);
  if (write_full(p->fd, iov, 2) != 0) die("floor write");
  if (p->locked) flock(p->lock_fd, LOCK_UN);
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
  if (p->locked) flock(p->lock_fd, LOCK_EX);
  if (read_full(p->fd, &len, 4) != 0 || len > cap || read_full(p->fd, buf, len) != 0)
    die("floor read");
  if (p->locked) flock(p->lock_fd, LOCK_UN);
  return len;
}

static void peer_close(peer *p) {
  if (p->q) fq_close(p->q);
  if (p->fd > 0) close(p->fd);
  if (p->lock_fd > 0) close(p->lock_fd);
}

/* ---- a throughput run: S senders, R receivers, `count` messages each sender ---- */

typedef struct {
  uint64_t msgs, bad;
} tally;

/* Message i of sender s: [s:u32][i:u32] ... last byte (uint8_t)i. */
static void stamp(unsigned char *m, uint32_t len, uint32_t s, uint32_t i) {
  if (len >= 8) {
    memcpy(m, &s, 4);
    memcpy(m + 4, &i, 4);
  }
  m[len - 1] = (unsigned char)i;
}

static void start_gate(int ready_w, int go_r) {
  char c = 1;
  if (write(ready_w, &c, 1) != 1 || read(go_r, &c, 1) != 1) die("gate");
}

static double run_throughput(int is_fq, const char *path, uint32_t size, int senders, int receivers,
                             uint32_t count, int *lost) {
  int ready[2], go[2], results[2];
  pid_t kids[2 * MAX_PROCS];
  int n = 0, i;
  if (pipe(ready) || pipe(go) || pipe(results)) die("pipe");
  peer keeper; /* holds the queue for the whole run and sends the end markers */
  peer_open(&keeper, is_fq, path, 1, receivers > 1);

  for (i = 0; i < receivers; ++i) {
    if ((kids[n++] = fork()) == 0) {
      peer p;
      tally t = {0, 0};
      uint32_t last[MAX_PROCS];
      unsigned char *buf = malloc(size);
      memset(last, 0xff, sizeof last);
      peer_open(&p, is_fq, path, 0, receivers > 1);
      start_gate(ready[1], go[0]);
      for (;;) {
        uint32_t len = peer_recv(&p, buf, size), s = 0, seq = 0;
        if (len == 0) break; /* end marker */
        if (len >= 8) {
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
      if (write(results[1], &t, sizeof t) != sizeof t) die("result");
      peer_close(&p);
      _exit(0);
    }
  }
  for (i = 0; i < senders; ++i) {
    if ((kids[n++] = fork()) == 0) {
      peer p;
      unsigned char *m = calloc(1, size);
      uint32_t k;
      peer_open(&p, is_fq, path, 1, senders > 1);
      start_gate(ready[1], go[0]);
      for (k = 0; k < count; ++k) {
        stamp(m, size, (uint32_t)i, k);
        peer_send(&p, m, size);
      }
      peer_close(&p);
      _exit(0);
    }
  }
  char c = 1;
  for (i = 0; i < n; ++i)
    if (read(ready[0], &c, 1) != 1) die("ready");
  const double t0 = now_s();
  for (i = 0; i < n; ++i)
    if (write(go[1], &c, 1) != 1) die("go");
  for (i = receivers; i < n; ++i) waitpid(kids[i], NULL, 0);
  for (i = 0; i < receivers; ++i) peer_send(&keeper, "", 0);
  uint64_t got = 0, bad = 0;
  for (i = 0; i < receivers; ++i) {
    tally t;
    if (read(results[0], &t, sizeof t) != sizeof t) die("results");
    got += t.msgs;
    bad += t.bad;
  }
  const double t1 = now_s();
  for (i = 0; i < receivers; ++i) waitpid(kids[i], NULL, 0);
  peer_close(&keeper);
  close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
  close(results[0]), close(results[1]);
  *lost = got != (uint64_t)senders * count || bad != 0;
  if (*lost)
    fprintf(stderr, "%s: LOST OR CORRUPT: sent %llu, received %llu, bad %llu\n",
            is_fq ? "fq" : "floor", (unsigned long long)senders * count, (unsigned long long)got,
            (unsigned long long)bad);
  return (double)senders * count / (t1 - t0);
}

/* ---- latency: ping-pong of 64 B over two queues ---- */

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
  sched_setaffinity(0, sizeof set, &set);
}

static void run_latency(int is_fq, const char *ping, const char *pong, uint32_t rounds, double *p50,
                        double *p99) {
  peer keep_ping, keep_pong;
  cpu_set_t all;
  sched_getaffinity(0, sizeof all, &all);
  pin_to_one_cpu(); /* the child inherits it */
  peer_open(&keep_ping, is_fq, ping, 1, 0);
  peer_open(&keep_pong, is_fq, pong, 1, 0);
  pid_t echo = fork();
  if (echo == 0) {
    peer in, out;
    unsigned char buf[64];
    uint32_t k;
    peer_open(&in, is_fq, ping, 0, 0);
    peer_open(&out, is_fq, pong, 1, 0);
    for (k = 0; k < rounds; ++k) peer_send(&out, buf, peer_recv(&in, buf, sizeof buf));
    _exit(0);
  }
  peer out, in;
  unsigned char msg[64] = {0};
  double *rtt = malloc(sizeof(double) * rounds);
  uint32_t k;
  peer_open(&out, is_fq, ping, 1, 0);
  peer_open(&in, is_fq, pong, 0, 0);
  for (k = 0; k < rounds; ++k) {
    const double t0 = now_s();
    peer_send(&out, msg, sizeof msg);
    peer_recv(&in, msg, sizeof msg);
    rtt[k] = now_s() - t0;
  }
  waitpid(echo, NULL, 0);
  sched_setaffinity(0, sizeof all, &all);
  qsort(rtt, rounds, sizeof *rtt, cmp_double);
  *p50 = rtt[rounds / 2] * 1e6;
  *p99 = rtt[(size_t)(rounds * 0.99)] * 1e6;
  free(rtt);
  peer_close(&out), peer_close(&in), peer_close(&keep_ping), peer_close(&keep_pong);
}

/* ---- driver ---- */

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char dir[] = "/tmp/fq-bench-XXXXXX";

static void queue_path(char *out, size_t cap, int is_fq, const char *name) {
  snprintf(out, cap, "%s/%s-%s", dir, is_fq ? "fq" : "floor", name);
  if (is_fq) {
    fq_queue *q;
    if (fq_open(out, FQ_WRITE | FQ_CREATE, &q) != 0) die("fq create");
    fq_close(q);
  } else if (mkfifo(out, 0600) != 0 && errno != EEXIST) {
    die("mkfifo");
  }
}

static void remove_queue(const char *path, int is_fq) {
  char lock[600];
  if (is_fq) {
    fq_unlink(path);
    return;
  }
  unlink(path);
  snprintf(lock, sizeof lock, "%s.w.lock", path), unlink(lock);
  snprintf(lock, sizeof lock, "%s.r.lock", path), unlink(lock);
}

/* Messages per sender so that one run lasts about `seconds`: from a short
 * calibration run of the floor. */
static uint32_t calibrate(uint32_t size, int senders, int receivers, double seconds) {
  char path[512];
  int lost;
  uint32_t probe = (uint32_t)(((64u << 20) / size) / (unsigned)senders);
  if (probe < 8) probe = 8;
  if (probe > 20000) probe = 20000;
  queue_path(path, sizeof path, 0, "calibrate");
  const double rate = run_throughput(0, path, size, senders, receivers, probe, &lost);
  remove_queue(path, 0);
  double n = rate * seconds / senders;
  if (n < 16) n = 16;
  if (n > 4e7) n = 4e7;
  return (uint32_t)n;
}

static void throughput_row(const char *label, uint32_t size, int senders, int receivers, int reps,
                           double seconds, int *any_lost) {
  double rate[2][16];
  const uint32_t count = calibrate(size, senders, receivers, seconds);
  int r, impl;
  for (r = 0; r < reps; ++r) {
    for (impl = 0; impl < 2; ++impl) { /* alternate, so drift hits both alike */
      char path[512];
      int lost = 0;
      queue_path(path, sizeof path, impl, "tp");
      rate[impl][r] = run_throughput(impl, path, size, senders, receivers, count, &lost);
      *any_lost |= lost;
      remove_queue(path, impl);
    }
  }
  const double floor_min = rate[0][0], fq_min = rate[1][0];
  double floor_lo = floor_min, floor_hi = floor_min, fq_lo = fq_min, fq_hi = fq_min;
  for (r = 0; r < reps; ++r) {
    if (rate[0][r] < floor_lo) floor_lo = rate[0][r];
    if (rate[0][r] > floor_hi) floor_hi = rate[0][r];
    if (rate[1][r] < fq_lo) fq_lo = rate[1][r];
    if (rate[1][r] > fq_hi) fq_hi = rate[1][r];
  }
  const double fl = median(rate[0], reps), fm = median(rate[1], reps);
  printf("| %s | %.0f | %.0f | %.0f | %.0f | **%.2fx** | %.0f–%.0f / %.0f–%.0f |\n", label, fm,
         fm * size / 1e6, fl, fl * size / 1e6, fm / fl, fq_lo, fq_hi, floor_lo, floor_hi);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int reps = 5, i, any_lost = 0;
  double seconds = 1.0;
  uint32_t sizes[16] = {64, 4096, 65536, 1u << 20, 8u << 20};
  int nsizes = 5;
  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--quick")) {
      reps = 1;
      seconds = 0.2;
    } else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
      char *s = argv[++i], *tok;
      for (nsizes = 0; (tok = strtok(s, ",")) && nsizes < 16; s = NULL) {
        sizes[nsizes++] = (uint32_t)strtoul(tok, NULL, 0);
      }
    } else {
      fprintf(stderr, "usage: fq_bench [--reps N] [--seconds S] [--quick] [--sizes a,b,...]\n");
      return 2;
    }
  }
  if (reps < 1 || reps > 16) reps = 5;
  if (!mkdtemp(dir)) die("mkdtemp");

  struct utsname u;
  uname(&u);
  FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
  unsigned long pipe_max = 0;
  if (f) {
    if (fscanf(f, "%lu", &pipe_max) != 1) pipe_max = 0;
    fclose(f);
  }
  printf("fq %d vs a bare length-prefixed FIFO; %ld CPUs, Linux %s, pipe-max-size %lu;\n",
         fq_version(), sysconf(_SC_NPROCESSORS_ONLN), u.release, pipe_max);
  printf("median of %d runs of about %.1f s each; range is min–max of fq / floor\n\n", reps,
         seconds);
  printf("| workload | fq msg/s | fq MB/s | floor msg/s | floor MB/s | fq/floor | range msg/s |\n");
  printf("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (i = 0; i < nsizes; ++i) {
    char label[64];
    if (sizes[i] >= (1u << 20))
      snprintf(label, sizeof label, "1→1, %u MiB", sizes[i] >> 20);
    else if (sizes[i] >= 1024)
      snprintf(label, sizeof label, "1→1, %u KiB", sizes[i] >> 10);
    else
      snprintf(label, sizeof label, "1→1, %u B", sizes[i]);
    throughput_row(label, sizes[i], 1, 1, reps, seconds, &any_lost);
  }
  throughput_row("4→4, 4 KiB", 4096, 4, 4, reps, seconds, &any_lost);

  double p50[2][16], p99[2][16];
  const uint32_t rounds = (uint32_t)(20000 * seconds) + 100;
  int r, impl;
  for (r = 0; r < reps; ++r) {
    for (impl = 0; impl < 2; ++impl) {
      char ping[512], pong[512];
      queue_path(ping, sizeof ping, impl, "ping");
      queue_path(pong, sizeof pong, impl, "pong");
      run_latency(impl, ping, pong, rounds, &p50[impl][r], &p99[impl][r]);
      remove_queue(ping, impl);
      remove_queue(pong, impl);
    }
  }
  const double f50 = median(p50[1], reps), l50 = median(p50[0], reps);
  const double f99 = median(p99[1], reps), l99 = median(p99[0], reps);
  printf(
      "\n| round trip, 64 B, both ends on one CPU | fq µs | floor µs | fq/floor |\n| --- | ---: | "
      "---: | ---: |\n");
  printf("| p50 | %.1f | %.1f | **%.2fx** |\n", f50, l50, f50 / l50);
  printf("| p99 | %.1f | %.1f | **%.2fx** |\n", f99, l99, f99 / l99);
  rmdir(dir);
  if (any_lost) {
    printf("\nSOME RUN LOST OR CORRUPTED MESSAGES: see stderr\n");
    return 1;
  }
  return 0;
}
