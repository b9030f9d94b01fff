/* fqctl: fq queues from the shell. Written against fq.h only.
 *
 *   fqctl send QUEUE [MSG...]        each MSG, or each line of stdin, as one message
 *   fqctl recv QUEUE [-n N] [--timeout S]
 *   fqctl stat QUEUE [--json]
 *   fqctl join QUEUE [--timeout S]
 *   fqctl create QUEUE [--mode MODE]
 *   fqctl rm QUEUE
 *   fqctl dead QUEUE [--json]        the dead letters of QUEUE, from its dead log
 *   fqctl redrive DLQ [QUEUE]        move DLQ's messages back (to QUEUE, or where each came from)
 *   fqctl policy QUEUE [--max-attempts N] [--lease MS] [--backoff-base MS]
 *                      [--backoff-cap MS] [--backoff-factor F] [--jitter PCT]
 *   fqctl work QUEUE [-n N] [--timeout S] -- CMD [ARG...]
 *                                    run CMD once per message, leased, payload on stdin
 *
 * Exit status: 0 done; 1 an error (on stderr); 2 a usage error; 3 no message
 * arrived (or work remained, for join) before the timeout.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fq.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

static const char *const usage_text =
    "usage: fqctl COMMAND QUEUE [OPTIONS]\n"
    "\n"
    "  send QUEUE [MSG...]            send each MSG as a message; without MSG, each line of\n"
    "                                 stdin (without its newline). Creates QUEUE if missing.\n"
    "  recv QUEUE [-n N] [--timeout S]\n"
    "                                 print N messages (default 1), each followed by a newline;\n"
    "                                 -n 0 prints all that arrive. Waits at most S seconds for\n"
    "                                 each (default: forever; 0: do not wait).\n"
    "  stat QUEUE [--json]            the queue's counters and limits, attached senders and\n"
    "                                 receivers (not counting fqctl), unfinished messages\n"
    "  join QUEUE [--timeout S]       wait until every message sent is marked done\n"
    "                                 (fq_task_done); at most S seconds (default: forever)\n"
    "  create QUEUE [--mode MODE]     create the queue (MODE in octal, default 600)\n"
    "  rm QUEUE                       remove the queue, its state and pending payloads\n"
    "  dead QUEUE [--json]            list every message dead-lettered from QUEUE (its dead\n"
    "                                 log QUEUE.fq-dead): time, deaths, attempts, reason, size\n"
    "                                 and the payload's start\n"
    "  redrive DLQ [QUEUE]            move every message of the dead-letter queue DLQ (say\n"
    "                                 jobs.fifo.dlq) to QUEUE, or back to the queue each came\n"
    "                                 from, attempts reset; prints how many moved\n"
    "  policy QUEUE [--max-attempts N] [--lease MS] [--backoff-base MS] [--backoff-cap MS]\n"
    "               [--backoff-factor F] [--jitter PCT]\n"
    "                                 show the queue's retry policy, or change the given fields\n"
    "  work QUEUE [-n N] [--timeout S] -- CMD [ARG...]\n"
    "                                 take messages under a lease and run CMD for each with\n"
    "                                 the payload on stdin. CMD exits 0: done. Exits 65\n"
    "                                 (EX_DATAERR): failed for good, dead-lettered at once.\n"
    "                                 Other: failed, retried with the queue's backoff until\n"
    "                                 its attempts run out, then dead-lettered. If fqctl dies,\n"
    "                                 the message goes to another worker. -n and --timeout as\n"
    "                                 for recv (default: work until interrupted).\n"
    "\n"
    "Exit status: 0 done, 1 error, 2 usage error, 3 timed out (no message, or work left).\n";

static int usage(const char *problem) {
  if (problem) fprintf(stderr, "fqctl: %s\n\n", problem);
  fputs(usage_text, problem ? stderr : stdout);
  return problem ? EXIT_USAGE : 0;
}

static int fail(const char *cmd, const char *queue, int rc) {
  if (rc == FQ_ESYS)
    fprintf(stderr, "fqctl %s %s: %s: %s\n", cmd, queue, fq_strerror(rc), strerror(errno));
  else
    fprintf(stderr, "fqctl %s %s: %s\n", cmd, queue, fq_strerror(rc));
  return EXIT_ERROR;
}

static int wants_help(int argc, char **argv) {
  int i;
  for (i = 0; i < argc && strcmp(argv[i], "--"); ++i) /* not CMD's own options */
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

/* Seconds from --timeout as milliseconds; -1 if not a valid count. */
static long parse_timeout(const char *arg) {
  char *end;
  const double s = strtod(arg, &end);
  if (*end || end == arg || s < 0 || s > 2e6) return -1;
  return (long)(s * 1000 + 0.5);
}

static int cmd_send(const char *q_path, int argc, char **argv) {
  fq_queue *q;
  int rc = fq_open(q_path, FQ_WRITE | FQ_CREATE, &q), i;
  if (rc != 0) return fail("send", q_path, rc);
  if (argc > 0) {
    for (i = 0; i < argc && rc == 0; ++i) rc = fq_send(q, argv[i], strlen(argv[i]));
  } else {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
      if (n > 0 && line[n - 1] == '\n') --n;
      rc = fq_send(q, line, (size_t)n);
    }
    free(line);
  }
  fq_close(q);
  return rc == 0 ? 0 : fail("send", q_path, rc);
}

static int cmd_recv(const char *q_path, int argc, char **argv) {
  long count = 1, timeout_ms = -1, got = 0;
  int i, rc = 0;
  fq_queue *q;
  size_t cap = 64 * 1024;
  char *buf, *end;
  for (i = 0; i < argc; ++i) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      count = strtol(argv[++i], &end, 10);
      if (*end || count < 0) return usage("recv: -n needs a count");
    } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
      timeout_ms = parse_timeout(argv[++i]);
      if (timeout_ms < 0) return usage("recv: --timeout needs seconds");
    } else {
      return usage("recv: unknown option");
    }
  }
  rc = fq_open(q_path, FQ_READ, &q);
  if (rc != 0) return fail("recv", q_path, rc);
  buf = malloc(cap);
  if (!buf) rc = FQ_ENOMEM;
  while (rc == 0 && (count == 0 || got < count)) {
    size_t len;
    rc = fq_recv_timeout(q, buf, cap, &len, (int)timeout_ms);
    if (rc == FQ_ETOOSMALL) {
      char *bigger = realloc(buf, len);
      if (!bigger) {
        rc = FQ_ENOMEM;
        break;
      }
      buf = bigger;
      cap = len;
      rc = 0;
      continue;
    }
    if (rc != 0) break;
    if (fwrite(buf, 1, len, stdout) != len || putchar('\n') == EOF) {
      rc = FQ_ESYS;
      break;
    }
    ++got;
  }
  free(buf);
  fq_close(q);
  if (fflush(stdout) != 0) return fail("recv", q_path, FQ_ESYS);
  if (rc == FQ_ETIMEDOUT || rc == FQ_EAGAIN) {
    /* -n 0 reads until the queue stays empty: that is success. */
    if (count == 0) return 0;
    fprintf(stderr, "fqctl recv %s: no message within %.3f s (%ld of %ld received)\n", q_path,
            timeout_ms / 1000.0, got, count);
    return EXIT_TIMEOUT;
  }
  return rc == 0 ? 0 : fail("recv", q_path, rc);
}

static int cmd_stat(const char *q_path, int argc, char **argv) {
  fq_queue *q;
  fq_stats s = FQ_STATS_INIT;
  int json = argc == 1 && !strcmp(argv[0], "--json"), rc;
  if (argc > 0 && !json) return usage("stat: unknown option");
  rc = fq_open(q_path, FQ_READ, &q);
  if (rc == 0) rc = fq_get_stats(q, &s);
  if (rc != 0) return fail("stat", q_path, rc);
  fq_close(q);
  {
    const struct {
      const char *name;
      uint64_t value;
    } rows[] = {{"queued_msgs", s.queued_msgs},
                {"queued_bytes", s.queued_bytes},
                {"sent", s.sent},
                {"received", s.received},
                {"garbage_bytes", s.garbage_bytes},
                {"dropped", s.dropped},
                {"lost_reads", s.lost_reads},
                {"max_msg", s.max_msg},
                {"room_msgs", s.room_msgs},
                {"room_bytes", s.room_bytes},
                {"pipe_size", s.pipe_size},
                {"held", s.held},
                {"leased", s.leased},
                {"retried", s.retried},
                {"dead_lettered", s.dead_lettered},
                {"redelivered", s.redelivered},
                /* Our own handle is a receiver: leave it out. */
                {"senders", s.senders},
                {"receivers", s.receivers > 0 ? s.receivers - 1 : 0},
                {"unfinished", s.unfinished}};
    size_t i;
    for (i = 0; i < sizeof rows / sizeof rows[0]; ++i) {
      if (json)
        printf("%s\"%s\": %llu", i ? ", " : "{", rows[i].name, (unsigned long long)rows[i].value);
      else
        printf("%-14s %llu\n", rows[i].name, (unsigned long long)rows[i].value);
    }
    if (json) printf("}\n");
  }
  return 0;
}

static int cmd_join(const char *q_path, int argc, char **argv) {
  long timeout_ms = -1;
  fq_queue *q;
  int rc;
  if (argc == 2 && !strcmp(argv[0], "--timeout")) {
    timeout_ms = parse_timeout(argv[1]);
    if (timeout_ms < 0) return usage("join: --timeout needs seconds");
  } else if (argc != 0) {
    return usage("join: unknown option");
  }
  rc = fq_open(q_path, FQ_READ, &q);
  if (rc != 0) return fail("join", q_path, rc);
  rc = fq_join(q, (int)timeout_ms);
  fq_close(q);
  if (rc == FQ_ETIMEDOUT || rc == FQ_EAGAIN) {
    fprintf(stderr, "fqctl join %s: work still unfinished after %.3f s\n", q_path,
            timeout_ms / 1000.0);
    return EXIT_TIMEOUT;
  }
  return rc == 0 ? 0 : fail("join", q_path, rc);
}

static int cmd_create(const char *q_path, int argc, char **argv) {
  fq_opts o = FQ_OPTS_INIT;
  fq_queue *q;
  int rc;
  if (argc == 2 && !strcmp(argv[0], "--mode")) {
    char *end;
    const long mode = strtol(argv[1], &end, 8);
    if (*end || mode < 0 || mode > 0777) return usage("create: --mode needs an octal mode");
    o.mode = (unsigned)mode;
  } else if (argc != 0) {
    return usage("create: unknown option");
  }
  rc = fq_open_opts(q_path, FQ_WRITE | FQ_CREATE, &o, &q);
  if (rc != 0) return fail("create", q_path, rc);
  fq_close(q);
  return 0;
}

/* The first bytes of a payload for a terminal (escaped as \xHH) or inside a
 * JSON string (escaped as \u00HH): printable ASCII as is, everything else,
 * quotes and backslashes too, escaped byte by byte. */
static void print_preview(const unsigned char *p, size_t len, size_t max, int json) {
  size_t i;
  for (i = 0; i < len && i < max; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
      putchar(p[i]);
    else
      printf(json ? "\\u%04x" : "\\x%02x", p[i]);
  }
  if (len > max) fputs("...", stdout);
}

/* Milliseconds since the epoch as UTC ISO 8601, or "-" for none. */
static const char *iso_time(int64_t ms, char *buf, size_t cap) {
  struct tm tm;
  time_t t = (time_t)(ms / 1000);
  if (ms <= 0 || !gmtime_r(&t, &tm)) return "-";
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + strlen(buf), cap - strlen(buf), ".%03dZ", (int)(ms % 1000));
  return buf;
}

static int cmd_dead(const char *q_path, int argc, char **argv) {
  fq_dead_log *log;
  fq_msg *m;
  int json = argc == 1 && !strcmp(argv[0], "--json"), rc;
  long n = 0;
  if (argc > 0 && !json) return usage("dead: unknown option");
  rc = fq_dead_open(q_path, &log);
  if (rc == FQ_ENOENT) { /* nothing ever died */
    if (json) puts("[]");
    return 0;
  }
  if (rc != 0) return fail("dead", q_path, rc);
  if (!json)
    printf("%-24s %6s %8s %10s  %s\n", "last death (UTC)", "deaths", "attempts", "bytes",
           "reason / payload");
  while ((rc = fq_dead_next(log, &m)) == 0) {
    char when[40];
    const char *t = iso_time(fq_msg_last_death_ms(m), when, sizeof when);
    if (json) {
      printf(
          "%s{\"last_death\": \"%s\", \"deaths\": %u, \"attempts\": %u, \"bytes\": %zu, "
          "\"permanent\": %s, \"reason\": \"",
          n ? ",\n " : "[", t, fq_msg_deaths(m), fq_msg_attempts(m), fq_msg_size(m),
          fq_msg_permanent(m) ? "true" : "false");
      print_preview((const unsigned char *)fq_msg_reason(m), strlen(fq_msg_reason(m)), 1024, 1);
      fputs("\", \"payload\": \"", stdout);
      print_preview(fq_msg_data(m), fq_msg_size(m), 64, 1);
      fputs("\"}", stdout);
    } else {
      printf("%-24s %6u %8u %10zu  %s%s\n%51s", t, fq_msg_deaths(m), fq_msg_attempts(m),
             fq_msg_size(m), fq_msg_reason(m), fq_msg_permanent(m) ? " (permanent)" : "", "");
      print_preview(fq_msg_data(m), fq_msg_size(m), 64, 0);
      putchar('\n');
    }
    fq_msg_free(m);
    ++n;
  }
  if (json) puts(n ? "]" : "[]");
  fq_dead_close(log);
  return rc == FQ_EAGAIN ? 0 : fail("dead", q_path, rc);
}

static int cmd_redrive(const char *dlq_path, int argc, char **argv) {
  fq_queue *dlq;
  size_t moved = 0;
  int rc;
  if (argc > 1) return usage("redrive: too many arguments");
  rc = fq_open(dlq_path, FQ_READ, &dlq);
  if (rc != 0) return fail("redrive", dlq_path, rc);
  rc = fq_redrive(dlq, argc == 1 ? argv[0] : NULL, &moved);
  fq_close(dlq);
  printf("%zu\n", moved);
  if (rc == FQ_EINVAL && argc == 0) {
    fprintf(stderr, "fqctl redrive %s: a message has no queue to go back to; name one\n", dlq_path);
    return EXIT_ERROR;
  }
  return rc == 0 ? 0 : fail("redrive", dlq_path, rc);
}

static int cmd_policy(const char *q_path, int argc, char **argv) {
  fq_policy p = FQ_POLICY_INIT;
  fq_queue *q;
  int i, rc = fq_open(q_path, FQ_READ, &q);
  if (rc != 0) return fail("policy", q_path, rc);
  rc = fq_get_policy(q, &p);
  for (i = 0; rc == 0 && i < argc; i += 2) {
    char *end;
    double v;
    if (i + 1 >= argc) {
      fq_close(q);
      return usage("policy: an option needs a value");
    }
    v = strtod(argv[i + 1], &end);
    if (*end || v < 0 || v > 4e9) {
      fq_close(q);
      return usage("policy: values are numbers");
    }
    if (!strcmp(argv[i], "--max-attempts"))
      p.max_attempts = (unsigned)v;
    else if (!strcmp(argv[i], "--lease"))
      p.lease_ms = (unsigned)v;
    else if (!strcmp(argv[i], "--backoff-base"))
      p.backoff_base_ms = (unsigned)v;
    else if (!strcmp(argv[i], "--backoff-cap"))
      p.backoff_cap_ms = (unsigned)v;
    else if (!strcmp(argv[i], "--backoff-factor"))
      p.backoff_factor = v;
    else if (!strcmp(argv[i], "--jitter"))
      p.jitter_pct = (unsigned)v;
    else {
      fq_close(q);
      return usage("policy: unknown option");
    }
  }
  if (rc == 0 && argc > 0) rc = fq_set_policy(q, &p);
  fq_close(q);
  if (rc != 0) return fail("policy", q_path, rc);
  printf(
      "max_attempts   %u\nlease_ms       %u\nbackoff_base   %u\nbackoff_cap    %u\n"
      "backoff_factor %g\njitter_pct     %u\n",
      p.max_attempts, p.lease_ms, p.backoff_base_ms, p.backoff_cap_ms, p.backoff_factor,
      p.jitter_pct);
  return 0;
}

/* Runs argv with `len` bytes of `data` on its stdin; its wait status, or -1. */
static int run_with_input(char **argv, const void *data, size_t len) {
  int in[2], status;
  pid_t pid;
  if (pipe(in) != 0) return -1;
  pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    close(in[0]);
    close(in[1]);
    execvp(argv[0], argv);
    fprintf(stderr, "fqctl work: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  {
    const char *p = data;
    struct sigaction ign = {0}, old;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old); /* CMD need not read all of it */
    while (len > 0) {
      const ssize_t n = write(in[1], p, len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      p += n;
      len -= (size_t)n;
    }
    sigaction(SIGPIPE, &old, NULL);
  }
  close(in[1]);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return status;
}

static int cmd_work(const char *q_path, int argc, char **argv) {
  long count = 0, timeout_ms = -1, done = 0;
  int i, rc;
  fq_queue *q;
  char *end;
  for (i = 0; i < argc && strcmp(argv[i], "--"); ++i) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      count = strtol(argv[++i], &end, 10);
      if (*end || count < 0) return usage("work: -n needs a count");
    } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
      const double s = strtod(argv[++i], &end);
      if (*end || s < 0 || s > 2e6) return usage("work: --timeout needs seconds");
      timeout_ms = (long)(s * 1000 + 0.5);
    } else {
      return usage("work: unknown option");
    }
  }
  if (i + 1 >= argc) return usage("work: no command after --");
  argv += i + 1;
  rc = fq_open(q_path, FQ_READ, &q);
  if (rc != 0) return fail("work", q_path, rc);
  while (count == 0 || done < count) {
    fq_msg *m;
    int status;
    char reason[64];
    rc = fq_lease(q, &m, -1, (int)timeout_ms);
    if (rc != 0) break;
    status = run_with_input(argv, fq_msg_data(m), fq_msg_size(m));
    if (status == 0) {
      rc = fq_ack(m);
    } else {
      int flags = 0;
      if (status < 0)
        snprintf(reason, sizeof reason, "could not run %s: %s", argv[0], strerror(errno));
      else if (WIFSIGNALED(status))
        snprintf(reason, sizeof reason, "%s killed by signal %d", argv[0], WTERMSIG(status));
      else
        snprintf(reason, sizeof reason, "%s exited %d", argv[0], WEXITSTATUS(status));
      if (status > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 65) flags = FQ_PERMANENT;
      rc = fq_fail(m, reason, flags, NULL);
    }
    fq_msg_free(m);
    if (rc != 0 && rc != FQ_ELEASELOST) break;
    ++done;
  }
  fq_close(q);
  if (rc == FQ_ETIMEDOUT || rc == FQ_EAGAIN) return count == 0 ? 0 : EXIT_TIMEOUT;
  return rc == 0 || rc == FQ_ELEASELOST ? 0 : fail("work", q_path, rc);
}

int main(int argc, char **argv) {
  const char *cmd, *q_path;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
    return usage(argc < 2 ? "no command" : NULL);
  cmd = argv[1];
  if (wants_help(argc - 2, argv + 2)) return usage(NULL);
  if (argc < 3) return usage("no queue given");
  q_path = argv[2];
  if (!strcmp(cmd, "send")) return cmd_send(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "recv")) return cmd_recv(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "stat")) return cmd_stat(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "join")) return cmd_join(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "create")) return cmd_create(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "dead")) return cmd_dead(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "redrive")) return cmd_redrive(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "work")) return cmd_work(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "policy")) return cmd_policy(q_path, argc - 3, argv + 3);
  if (!strcmp(cmd, "rm")) {
    const int rc = argc == 3 ? fq_unlink(q_path) : FQ_EINVAL;
    if (argc != 3) return usage("rm: unexpected arguments");
    return rc == 0 ? 0 : fail("rm", q_path, rc);
  }
  return usage("unknown command");
}
