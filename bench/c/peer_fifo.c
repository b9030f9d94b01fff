/* The floor fq is built on: a bare FIFO carrying a 4-byte length and the
 * payload, written with one writev and read with two read loops, no framing
 * checks, its pipe enlarged to 1 MiB as fq's is. Several senders or receivers
 * on one end need a lock to keep messages whole: flock on one lock file for
 * the senders and another for the receivers, held around each message (fq
 * needs none). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "peer.h"

typedef struct {
  char path[512], lock[2][520]; /* lock[1]: the senders', lock[0]: the receivers' */
  int locked[2];
} fifo_chan;

typedef struct {
  int fd, lock_fd; /* lock_fd -1: this end is not shared */
} fifo_end;

static void *fifo_create(const char *path, uint32_t size, int senders, int receivers,
                         const char **na, char *note, size_t note_cap) {
  (void)size, (void)na, (void)note, (void)note_cap;
  fifo_chan *c = calloc(1, sizeof *c);
  if (!c) bench_die("calloc");
  snprintf(c->path, sizeof c->path, "%s", path);
  snprintf(c->lock[1], sizeof c->lock[1], "%s.w.lock", path);
  snprintf(c->lock[0], sizeof c->lock[0], "%s.r.lock", path);
  c->locked[1] = senders > 1;
  c->locked[0] = receivers > 1;
  if (mkfifo(path, 0600) != 0) bench_die("mkfifo");
  return c;
}

static void *fifo_open_end(void *chan, int sending, int index) {
  (void)index;
  fifo_chan *c = chan;
  fifo_end *e = malloc(sizeof *e);
  if (!e) bench_die("malloc");
  /* O_RDWR: opening never blocks on the other side, as with fq. */
  e->fd = open(c->path, O_RDWR);
  if (e->fd < 0) bench_die("open fifo");
  if (fcntl(e->fd, F_SETPIPE_SZ, 1 << 20) < 0) bench_die("F_SETPIPE_SZ");
  e->lock_fd = -1;
  if (c->locked[sending]) {
    e->lock_fd = open(c->lock[sending], O_RDWR | O_CREAT, 0600);
    if (e->lock_fd < 0) bench_die("open lock");
  }
  return e;
}

static void lock(int fd, int op) {
  if (fd < 0) return;
  while (flock(fd, op) != 0)
    if (errno != EINTR) bench_die("flock");
}

static void write_all(int fd, struct iovec *iov, int cnt) {
  while (cnt > 0) {
    ssize_t w = writev(fd, iov, cnt);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) bench_die("fifo write");
    for (; cnt > 0 && (size_t)w >= iov->iov_len; ++iov, --cnt) w -= (ssize_t)iov->iov_len;
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
}

static void read_all(int fd, void *p, size_t n) {
  for (char *c = p; n > 0;) {
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) bench_die("fifo read");
    c += r;
    n -= (size_t)r;
  }
}

static void fifo_send(void *end, const void *msg, uint32_t len) {
  fifo_end *e = end;
  struct iovec iov[2] = {{&len, 4}, {(void *)msg, len}};
  lock(e->lock_fd, LOCK_EX);
  write_all(e->fd, iov, 2);
  lock(e->lock_fd, LOCK_UN);
}

static const void *fifo_recv(void *end, void *buf, uint32_t cap, uint32_t *len) {
  fifo_end *e = end;
  lock(e->lock_fd, LOCK_EX);
  read_all(e->fd, len, 4);
  if (*len > cap) {
    fprintf(stderr, "fifo: length %u exceeds %u: the stream is corrupt\n", *len, cap);
    exit(2);
  }
  read_all(e->fd, buf, *len);
  lock(e->lock_fd, LOCK_UN);
  return buf;
}

static void fifo_close(void *end) {
  fifo_end *e = end;
  close(e->fd);
  if (e->lock_fd >= 0) close(e->lock_fd);
  free(e);
}

static void fifo_destroy(void *chan) {
  fifo_chan *c = chan;
  unlink(c->path), unlink(c->lock[0]), unlink(c->lock[1]);
  free(c);
}

const bench_peer bench_peer_fifo = {"bare FIFO", fifo_create, fifo_open_end, fifo_send,
                                    fifo_recv,   fifo_close,  fifo_destroy,  NULL};
