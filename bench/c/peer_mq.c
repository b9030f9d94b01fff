/* POSIX message queues: mq_send and mq_receive, at the sizes the kernel
 * allows. Two limits apply when the queue is made: the largest message
 * (/proc/sys/fs/mqueue/msgsize_max, 8192 by default) and the bytes a user's
 * queues may reserve (RLIMIT_MSGQUEUE, 800 KiB by default), which bounds
 * depth x size. As root, msgsize_max is raised for the one mq_open call that
 * needs it and restored at once (the kernel checks it only there); the depth
 * is the default 10 messages, fewer if the rlimit demands; past both limits
 * the size is n/a. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

static const char msgsize_max_path[] = "/proc/sys/fs/mqueue/msgsize_max";

typedef struct {
  char name[64];
  uint32_t size;
} mq_chan;

static long read_msgsize_max(void) {
  long v = -1;
  FILE *f = fopen(msgsize_max_path, "r");
  if (f) {
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
  }
  return v;
}

static int write_msgsize_max(long v) {
  FILE *f = fopen(msgsize_max_path, "w");
  if (!f) return -1;
  int ok = fprintf(f, "%ld\n", v) > 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* mq_open with `depth` messages of `size`, msgsize_max raised around the call
 * if it is below size and we may write it. */
static mqd_t open_sized(const char *name, uint32_t size, long depth, char *note, size_t note_cap) {
  struct mq_attr attr = {0};
  attr.mq_maxmsg = depth;
  attr.mq_msgsize = size;
  const long old = read_msgsize_max();
  const int raised = old >= 0 && (long)size > old && write_msgsize_max((long)size) == 0;
  const mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  const int saved = errno;
  if (raised) {
    if (write_msgsize_max(old) != 0) bench_die("restoring fs.mqueue.msgsize_max");
    if (q != (mqd_t)-1)
      snprintf(note, note_cap, "msgsize_max raised from %ld around mq_open; depth %ld", old, depth);
  }
  errno = saved;
  return q;
}

static void *mq_create(const char *path, uint32_t size, int senders, int receivers, const char **na,
                       char *note, size_t note_cap) {
  (void)senders, (void)receivers;
  mq_chan *c = calloc(1, sizeof *c);
  if (!c) bench_die("calloc");
  const char *base = strrchr(path, '/');
  snprintf(c->name, sizeof c->name, "/fq-bench-%d-%s", (int)getpid(), base ? base + 1 : path);
  c->size = size;
  /* EMFILE: RLIMIT_MSGQUEUE cannot hold `depth` such messages; try fewer. */
  mqd_t q = (mqd_t)-1;
  for (long depth = 10; depth >= 1; --depth) {
    q = open_sized(c->name, size, depth, note, note_cap);
    if (q != (mqd_t)-1 || errno != EMFILE) break;
  }
  if (q == (mqd_t)-1) {
    if (errno == EINVAL)
      *na = "above fs.mqueue.msgsize_max (not root) or the kernel's 16 MiB cap";
    else if (errno == EMFILE)
      *na = "one message exceeds RLIMIT_MSGQUEUE";
    else
      bench_die("mq_open");
    free(c);
    return NULL;
  }
  mq_close(q);
  return c;
}

static void *mq_open_end(void *chan, int sending, int index) {
  (void)index;
  mqd_t *q = malloc(sizeof *q);
  if (!q) bench_die("malloc");
  *q = mq_open(((mq_chan *)chan)->name, sending ? O_WRONLY : O_RDONLY);
  if (*q == (mqd_t)-1) bench_die("mq_open");
  return q;
}

static void mq_send_one(void *end, const void *msg, uint32_t len) {
  while (mq_send(*(mqd_t *)end, msg, len, 0) != 0)
    if (errno != EINTR) bench_die("mq_send");
}

static const void *mq_recv_one(void *end, void *buf, uint32_t cap, uint32_t *len) {
  ssize_t n;
  while ((n = mq_receive(*(mqd_t *)end, buf, cap, NULL)) < 0)
    if (errno != EINTR) bench_die("mq_receive");
  *len = (uint32_t)n;
  return buf;
}

static void mq_close_end(void *end) {
  mq_close(*(mqd_t *)end);
  free(end);
}

static void mq_destroy(void *chan) {
  mq_unlink(((mq_chan *)chan)->name);
  free(chan);
}

const bench_peer bench_peer_mq = {"POSIX mq",  mq_create,    mq_open_end, mq_send_one,
                                  mq_recv_one, mq_close_end, mq_destroy,  NULL};
