/* fqctl: fq queues from the shell. Written against fq.h only.
 *
 *   fqctl send QUEUE [MSG...]        each MSG, or each line of stdin, as one message
 *   fqctl recv QUEUE [-n N] [--timeout S]
 *   fqctl stat QUEUE [--json]
 *   fqctl join QUEUE [--timeout S]
 *   fqctl create QUEUE [--mode MODE]
 *   fqctl rm QUEUE
 *
 * Exit status: 0 done; 1 an error (on stderr); 2 a usage error; 3 no message
 * arrived (or work remained, for join) before the timeout.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  for (i = 0; i < argc; ++i)
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
  if (!strcmp(cmd, "rm")) {
    const int rc = argc == 3 ? fq_unlink(q_path) : FQ_EINVAL;
    if (argc != 3) return usage("rm: unexpected arguments");
    return rc == 0 ? 0 : fail("rm", q_path, rc);
  }
  return usage("unknown command");
}
