/* fq dead-letter demo: the seeds' URL worker, with the failure handling the
 * seeds asked for (../shared/seeds/004: a dead-letter queue, a delay before
 * each retry that grows, permanent errors filtered out) done by fq.
 *
 * A producer queues URLs. Two worker processes take them under a lease and
 * "fetch" them (simulated, so the demo needs no network):
 *   quote/N     succeeds
 *   flaky       fails twice (HTTP 503), then succeeds: retried with backoff
 *   down        always 503: dead-lettered after 3 attempts
 *   bad://url   malformed: a permanent failure, dead-lettered at once
 *   crash       the worker holding it is killed (SIGKILL) the first time:
 *               the message goes to the other worker, attempt 2
 * Then it lists the dead log and redrives the dead-letter queue.
 * Run: ./dead_letters [directory]
 */
#define _POSIX_C_SOURCE 200809L
#include <fq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WORKERS = 2 };

static double t0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *who, const char *fmt, const char *url, unsigned attempt,
                const char *what) {
  printf("%7.3f s  %-9s ", now() - t0, who);
  printf(fmt, url, attempt, what);
  putchar('\n');
  fflush(stdout);
}

/* The pretend fetch: 0 ok, 1 a transient error, 2 a permanent one. */
static int fetch(const char *url, unsigned attempt) {
  if (!strncmp(url, "bad://", 6)) return 2;
  if (!strcmp(url, "down")) return 1;
  if (!strcmp(url, "flaky")) return attempt <= 2;
  if (!strcmp(url, "crash") && attempt == 1) raise(SIGKILL); /* dies holding the lease */
  return 0;
}

static int worker(const char *path, int id) {
  fq_queue *q;
  fq_msg *m;
  char me[24];
  snprintf(me, sizeof me, "worker %d", id);
  if (fq_open(path, FQ_READ, &q) != 0) return 1;
  /* Idle for 2 s: the demo is over. */
  while (fq_lease(q, &m, 10000, 2000) == 0) {
    char url[128];
    int64_t retry_ms = 0;
    const unsigned attempt = fq_msg_attempts(m);
    const size_t n = fq_msg_size(m) < sizeof url - 1 ? fq_msg_size(m) : sizeof url - 1;
    memcpy(url, fq_msg_data(m), n);
    url[n] = 0;
    switch (fetch(url, attempt)) {
      case 0:
        say(me, "%-10s attempt %u  done%s", url, attempt, "");
        fq_ack(m);
        break;
      case 1:
        fq_fail(m, "HTTP 503", 0, &retry_ms);
        if (retry_ms >= 0)
          printf("%7.3f s  %-9s %-10s attempt %u  HTTP 503: retry in %lld ms\n", now() - t0, me,
                 url, attempt, (long long)retry_ms);
        else
          say(me, "%-10s attempt %u  HTTP 503: %s", url, attempt, "out of attempts, dead-lettered");
        fflush(stdout);
        break;
      default:
        fq_fail(m, "malformed URL", FQ_PERMANENT, NULL);
        say(me, "%-10s attempt %u  %s", url, attempt, "permanent error, dead-lettered");
    }
    fq_msg_free(m);
  }
  fq_close(q);
  return 0;
}

int main(int argc, char **argv) {
  static const char *const urls[] = {"quote/1", "flaky", "bad://url", "quote/2",
                                     "down",    "crash", "quote/3"};
  char dir[] = "/tmp/fq-dlq-demo-XXXXXX", path[512], dlq_path[600];
  fq_queue *q, *dlq;
  fq_policy policy = FQ_POLICY_INIT;
  fq_dead_log *log;
  fq_msg *m;
  size_t i, moved = 0;
  int w, rc;
  if (argc > 1) {
    snprintf(path, sizeof path, "%s/input.fifo", argv[1]);
  } else {
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/input.fifo", dir);
  }
  snprintf(dlq_path, sizeof dlq_path, "%s.dlq", path);
  t0 = now();
  rc = fq_open(path, FQ_READ | FQ_WRITE | FQ_CREATE, &q);
  if (rc != 0) {
    fprintf(stderr, "fq_open %s: %s\n", path, fq_strerror(rc));
    return 1;
  }
  /* Three attempts, 200 ms before the first retry, doubling, no jitter. */
  policy.max_attempts = 3;
  policy.backoff_base_ms = 200;
  policy.jitter_pct = 0;
  fq_set_policy(q, &policy);
  printf("queue %s: %u attempts, retries after 200 ms, 400 ms, ...\n\n", path, policy.max_attempts);
  for (i = 0; i < sizeof urls / sizeof urls[0]; ++i) fq_send(q, urls[i], strlen(urls[i]));
  printf("%7.3f s  %-9s queued %zu URLs\n", now() - t0, "producer", i);
  fflush(stdout);

  for (w = 1; w <= WORKERS; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      fq_close(q); /* the child's own handle is opened in worker() */
      _exit(worker(path, w));
    }
    if (pid < 0) return 1;
  }
  for (w = 0; w < WORKERS + 1; ++w) {
    int status;
    const pid_t pid = wait(&status);
    if (pid < 0) break;
    if (WIFSIGNALED(status)) {
      printf("%7.3f s  %-9s a worker died of signal %d holding its message; restarting it\n",
             now() - t0, "main", WTERMSIG(status));
      fflush(stdout);
      if (fork() == 0) {
        fq_close(q);
        _exit(worker(path, 3));
      }
    }
  }

  printf("\nthe dead log (%s.fq-dead):\n", path);
  if (fq_dead_open(path, &log) == 0) {
    while (fq_dead_next(log, &m) == 0) {
      printf("  %-10.*s attempts %u, deaths %u, reason: %s%s\n", (int)fq_msg_size(m),
             (const char *)fq_msg_data(m), fq_msg_attempts(m), fq_msg_deaths(m), fq_msg_reason(m),
             fq_msg_permanent(m) ? " (permanent)" : "");
      fq_msg_free(m);
    }
    fq_dead_close(log);
  }
  if (fq_open(dlq_path, FQ_READ, &dlq) == 0) {
    fq_redrive(dlq, NULL, &moved);
    fq_close(dlq);
  }
  printf("\nthe cause is fixed: redrive moved %zu message(s) back to %s:\n", moved, path);
  while (fq_recv_msg(q, &m, 0) == 0) {
    printf("  %.*s, attempts reset, %u death(s) on record, last: %s\n", (int)fq_msg_size(m),
           (const char *)fq_msg_data(m), fq_msg_deaths(m), fq_msg_reason(m));
    fq_msg_free(m);
  }
  fq_close(q);
  if (argc <= 1) {
    fq_unlink(dlq_path);
    fq_unlink(path);
    snprintf(dlq_path, sizeof dlq_path, "%s.fq-dead", path);
    unlink(dlq_path);
    rmdir(dir);
  }
  return 0;
}
