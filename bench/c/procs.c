#define _GNU_SOURCE
#include "procs.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void gate_init(bench_gate *g) {
  for (int s = 0; s < GATE_STAGES; ++s)
    if (pipe(g->ready[s]) != 0 || pipe(g->go[s]) != 0) bench_die("pipe");
  g->stage = 0;
}

pid_t gate_fork(bench_gate *g) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) bench_die("fork");
  if (pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(2);
    for (int s = 0; s < GATE_STAGES; ++s) close(g->ready[s][0]), close(g->go[s][1]);
  }
  return pid;
}

void gate_child_wait(bench_gate *g) {
  const int s = g->stage++;
  char c = 1;
  if (write(g->ready[s][1], &c, 1) != 1) bench_die("gate");
  /* Closed, so that the parent sees EOF instead of waiting forever when a
   * sibling dies before it is ready. */
  close(g->ready[s][1]);
  if (read(g->go[s][0], &c, 1) != 0) bench_die("gate");
  close(g->go[s][0]);
}

double gate_open(bench_gate *g, int n) {
  const int s = g->stage++;
  char c;
  int ok = 1;
  close(g->ready[s][1]), close(g->go[s][0]);
  for (int i = 0; i < n && ok; ++i) ok = read(g->ready[s][0], &c, 1) == 1;
  close(g->ready[s][0]);
  const double t0 = now_s();
  close(g->go[s][1]); /* every child's read returns 0 at once: the stage begins */
  return ok ? t0 : -1;
}

void usage_add(side_usage *u, const struct rusage *ru) {
  u->cpu_s += (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
              (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
  if (ru->ru_maxrss > u->maxrss_kb) u->maxrss_kb = ru->ru_maxrss;
}

void *shared_alloc(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bench_die("mmap");
  return p;
}
