/* The processes of one run: forked children that start together, their
 * resource use, and memory they share with the parent. */
#ifndef FQ_BENCH_PROCS_H
#define FQ_BENCH_PROCS_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Children start on events, never on a sleep, in two stages. First every
 * receiving end is opened, then every sending end (a ZeroMQ sender that
 * connects before its receiver has bound waits 100 ms to retry, and pyzmq
 * was seen to lose messages then); then all start at once. In each stage
 * every child says it is ready on one pipe and waits on another. */
enum { GATE_STAGES = 2 };

typedef struct {
  int ready[GATE_STAGES][2], go[GATE_STAGES][2];
  int stage; /* the next one, in the parent and in each child */
} bench_gate;

void gate_init(bench_gate *g);
/* fork(); the child dies with the parent (PR_SET_PDEATHSIG), so a runner
 * killed for taking too long leaves nothing behind. */
pid_t gate_fork(bench_gate *g);
/* In a child: ready for the next stage; returns when it begins. */
void gate_child_wait(bench_gate *g);
/* In the parent, once every child is forked: waits until all `n` are ready
 * for the next stage, then begins it. Returns the time it began, or -1 if a
 * child died first. */
double gate_open(bench_gate *g, int n);

/* What one side of a run (its senders, or its receivers) used: user+sys CPU
 * time summed over its processes, and the largest peak RSS among them. */
typedef struct {
  double cpu_s;
  long maxrss_kb;
} side_usage;

void usage_add(side_usage *u, const struct rusage *ru);

void *shared_alloc(size_t size); /* zeroed, MAP_SHARED: children forked after see the same pages */
double now_s(void);              /* CLOCK_MONOTONIC */

#endif
