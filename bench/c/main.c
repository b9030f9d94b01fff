/* fq_bench: one timed run of one C peer, as one line of JSON on stdout.
 *
 *   fq_bench PEER throughput SIZE SENDERS RECEIVERS COUNT
 *   fq_bench PEER latency SECONDS
 *   fq_bench --list
 *
 * bench/run.py calls it for every run (calibration, repetitions and the
 * tables are its job), so every run starts in fresh processes. Exit status 0
 * for a run that delivered every message intact or could not run here
 * ("status": "na"), 1 for one that lost or corrupted a message or whose
 * process failed, 2 for a usage or system error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static const struct {
  const char *id;
  const bench_peer *peer;
} peers[] = {
    {"fq", &bench_peer_fq},
    {"fq-batch", &bench_peer_fq_batch},
    {"fq-in-place", &bench_peer_fq_in_place},
    {"fifo", &bench_peer_fifo},
    {"mq", &bench_peer_mq},
    {"seqpacket", &bench_peer_seqpacket},
#ifdef FQ_BENCH_ZMQ
    {"zmq", &bench_peer_zmq},
#else
    {"zmq", NULL}, /* listed anyway: a run fails, loudly, rather than the peer going missing */
#endif
#ifdef FQ_BENCH_BROKER /* run only by run.py --broker: they need a RabbitMQ node */
    {"fq-broker", &bench_peer_fq_broker},
    {"librabbitmq", &bench_peer_rabbitmq},
#else
    {"fq-broker", NULL},
    {"librabbitmq", NULL},
#endif
};
enum { NPEERS = sizeof peers / sizeof peers[0] };

void bench_die(const char *what) {
  perror(what);
  exit(2);
}

void bench_die_fq(const char *what, int rc) {
  fprintf(stderr, "%s: %s\n", what, fq_strerror(rc));
  exit(2);
}

static int usage(void) {
  fprintf(stderr,
          "usage: fq_bench PEER throughput SIZE SENDERS RECEIVERS COUNT\n"
          "       fq_bench PEER latency SECONDS\n"
          "       fq_bench --list\n");
  return 2;
}

/* The run's directory holds only what its peer made (a FIFO, lock files,
 * ipc:// sockets a killed receiver left): flat, removed entry by entry. */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[600];
  if (!d) return;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  closedir(d);
  if (rmdir(dir) != 0) perror(dir);
}

static void json_string(const char *key, const char *s) {
  printf(", \"%s\": \"", key);
  for (; *s; ++s) printf(*s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
  printf("\"");
}

static void print_result(const char *id, const char *workload, uint32_t size, int senders,
                         int receivers, const bench_result *r) {
  printf(
      "{\"lang\": \"c\", \"peer\": \"%s\", \"workload\": \"%s\", \"size\": %u, "
      "\"senders\": %d, \"receivers\": %d",
      id, workload, size, senders, receivers);
  json_string("status", r->status);
  if (r->na) json_string("na", r->na);
  if (r->note[0]) json_string("note", r->note);
  printf(
      ", \"messages\": %llu, \"received\": %llu, \"bad\": %llu, \"seconds\": %.6f, "
      "\"cpu_send_s\": %.6f, \"cpu_recv_s\": %.6f, \"rss_send_kb\": %ld, \"rss_recv_kb\": %ld",
      (unsigned long long)r->messages, (unsigned long long)r->received, (unsigned long long)r->bad,
      r->seconds, r->send.cpu_s, r->recv.cpu_s, r->send.maxrss_kb, r->recv.maxrss_kb);
  if (!strcmp(workload, "latency"))
    printf(", \"p50_us\": %.3f, \"p99_us\": %.3f", r->p50_us, r->p99_us);
  printf("}\n");
}

static int parse(const char *s, double lo, double hi, double *v) {
  char *end;
  *v = strtod(s, &end);
  return *end == 0 && end != s && *v >= lo && *v <= hi;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--list")) {
    for (int i = 0; i < NPEERS; ++i)
      printf("%s\t%s\n", peers[i].id, peers[i].peer ? peers[i].peer->name : peers[i].id);
    return 0;
  }
  if (argc < 3) return usage();
  int found = 0;
  const bench_peer *p = NULL;
  for (int i = 0; i < NPEERS; ++i)
    if (!strcmp(argv[1], peers[i].id)) p = peers[i].peer, found = 1;
  if (!found) {
    fprintf(stderr, "fq_bench: no peer %s (--list shows them)\n", argv[1]);
    return 2;
  }
  if (!p) {
    fprintf(stderr, "fq_bench: built without %s's library (scripts/deps installs it)\n", argv[1]);
    return 2;
  }
  bench_result r = {0};
  double size = 64, senders = 1, receivers = 1, count, seconds;
  char dir[] = "/tmp/fq-bench-XXXXXX";
  signal(SIGPIPE, SIG_IGN); /* a dead reader shows as EPIPE, reported, not a silent death */
  if (!strcmp(argv[2], "throughput") && argc == 7) {
    if (!parse(argv[3], 8, 1 << 30, &size) || !parse(argv[4], 1, 16, &senders) ||
        !parse(argv[5], 1, 16, &receivers) || !parse(argv[6], 1, 1e10, &count))
      return usage();
    if (!mkdtemp(dir)) bench_die("mkdtemp");
    run_throughput(p, dir, (uint32_t)size, (int)senders, (int)receivers, (uint64_t)count, &r);
  } else if (!strcmp(argv[2], "latency") && argc == 4) {
    if (!parse(argv[3], 0.01, 3600, &seconds)) return usage();
    if (!mkdtemp(dir)) bench_die("mkdtemp");
    run_latency(p, dir, seconds, &r);
  } else {
    return usage();
  }
  remove_dir(dir);
  print_result(argv[1], argv[2], (uint32_t)size, (int)senders, (int)receivers, &r);
  return !strcmp(r.status, "ok") || !strcmp(r.status, "na") ? 0 : 1;
}
