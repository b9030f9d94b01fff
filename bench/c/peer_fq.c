/* fq, the way its C users call it: fq_send, and fq_recv into the caller's
 * buffer; and its variants, each a table listed in main.c: batch calls
 * (fq_send_many, fq_recv_many), and fq_recv_msg, which maps a large payload
 * in place instead of copying it. */
#include <fq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "peer.h"

typedef struct {
  char path[512];
  fq_queue *keeper; /* holds the queue for the whole run, so it never empties into its state file */
} fq_chan;

static void *fq_create(const char *path, uint32_t size, int senders, int receivers, const char **na,
                       char *note, size_t note_cap) {
  (void)size, (void)senders, (void)receivers, (void)na, (void)note, (void)note_cap;
  fq_chan *c = calloc(1, sizeof *c);
  if (!c) bench_die("calloc");
  snprintf(c->path, sizeof c->path, "%s", path);
  int rc = fq_open(c->path, FQ_READ | FQ_WRITE | FQ_CREATE, &c->keeper);
  if (rc != 0) bench_die_fq(c->path, rc);
  return c;
}

static void *fq_open_end(void *chan, int sending, int index) {
  (void)index;
  fq_queue *q;
  int rc = fq_open(((fq_chan *)chan)->path, sending ? FQ_WRITE : FQ_READ, &q);
  if (rc != 0) bench_die_fq("fq_open", rc);
  return q;
}

static void fq_send_one(void *end, const void *msg, uint32_t len) {
  int rc = fq_send(end, msg, len);
  if (rc != 0) bench_die_fq("fq_send", rc);
}

static const void *fq_recv_one(void *end, void *buf, uint32_t cap, uint32_t *len) {
  size_t n;
  int rc = fq_recv(end, buf, cap, &n);
  if (rc != 0) bench_die_fq("fq_recv", rc);
  *len = (uint32_t)n;
  return buf;
}

static void fq_close_end(void *end) { fq_close(end); }

static void fq_destroy(void *chan) {
  fq_chan *c = chan;
  fq_close(c->keeper);
  int rc = fq_unlink(c->path);
  if (rc != 0) fprintf(stderr, "fq_unlink %s: %s\n", c->path, fq_strerror(rc));
  free(c);
}

const bench_peer bench_peer_fq = {"fq",        fq_create,    fq_open_end, fq_send_one,
                                  fq_recv_one, fq_close_end, fq_destroy,  NULL};

/* ---- batches: a sender gathers up to BATCH messages (copies: the caller
 * reuses its buffer) or BATCH_BYTES and sends them with one fq_send_many; a
 * receiver takes every message waiting, up to RECV_BYTES, with one
 * fq_recv_many and hands them out one by one. ---- */

enum { BATCH = 64, BATCH_BYTES = 64 << 10, RECV_BYTES = 1 << 20, RECV_MAX = 1024 };

typedef struct {
  fq_queue *q;
  char *buf;
  size_t cap, used;
  struct iovec iov[BATCH]; /* a sender's gathered messages, in buf */
  size_t n;
  size_t lens[RECV_MAX]; /* a receiver's last batch, in buf */
  size_t count, next;
} fq_batch_end;

static void *batch_open(void *chan, int sending, int index) {
  fq_batch_end *e = calloc(1, sizeof *e);
  if (!e) bench_die("calloc");
  e->q = fq_open_end(chan, sending, index);
  e->cap = sending ? BATCH_BYTES : RECV_BYTES;
  if (!(e->buf = malloc(e->cap))) bench_die("malloc");
  return e;
}

static void batch_flush(fq_batch_end *e) {
  size_t sent = 0;
  if (e->n == 0) return;
  int rc = fq_send_many(e->q, e->iov, e->n, &sent, -1);
  if (rc != 0) bench_die_fq("fq_send_many", rc);
  e->n = e->used = 0;
}

static void batch_send(void *end, const void *msg, uint32_t len) {
  fq_batch_end *e = end;
  if (len > e->cap) { /* too large to gather: sent on its own */
    batch_flush(e);
    fq_send_one(e->q, msg, len);
    return;
  }
  if (e->n == BATCH || e->used + len > e->cap) batch_flush(e);
  memcpy(e->buf + e->used, msg, len);
  e->iov[e->n++] = (struct iovec){e->buf + e->used, len};
  e->used += len;
}

static const void *batch_recv(void *end, void *buf, uint32_t cap, uint32_t *len) {
  fq_batch_end *e = end;
  (void)buf;
  if (e->next == e->count) {
    if (cap > e->cap) { /* the first message of a batch must fit */
      free(e->buf);
      if (!(e->buf = malloc(e->cap = cap))) bench_die("malloc");
    }
    int rc = fq_recv_many(e->q, e->buf, e->cap, e->lens, RECV_MAX, &e->count, -1);
    if (rc != 0) bench_die_fq("fq_recv_many", rc);
    e->next = e->used = 0;
  }
  const char *m = e->buf + e->used;
  *len = (uint32_t)e->lens[e->next];
  e->used += e->lens[e->next++];
  return m;
}

static void batch_close(void *end) {
  fq_batch_end *e = end;
  batch_flush(e);
  fq_close(e->q);
  free(e->buf);
  free(e);
}

const bench_peer bench_peer_fq_batch = {"fq batch (fq_send_many, fq_recv_many)",
                                        fq_create,
                                        batch_open,
                                        batch_send,
                                        batch_recv,
                                        batch_close,
                                        fq_destroy,
                                        "a batch waits to fill"};

/* ---- in place: fq_recv_msg, whose payload from 256 KiB up is the sender's
 * shared memory mapped here, read without a copy until fq_msg_free. ---- */

typedef struct {
  fq_queue *q;
  fq_msg *m; /* the last message received, freed at the next */
} fq_in_place_end;

static void *in_place_open(void *chan, int sending, int index) {
  fq_in_place_end *e = calloc(1, sizeof *e);
  if (!e) bench_die("calloc");
  e->q = fq_open_end(chan, sending, index);
  return e;
}

static void in_place_send(void *end, const void *msg, uint32_t len) {
  fq_send_one(((fq_in_place_end *)end)->q, msg, len);
}

static const void *in_place_recv(void *end, void *buf, uint32_t cap, uint32_t *len) {
  fq_in_place_end *e = end;
  (void)buf, (void)cap;
  if (e->m) fq_msg_free(e->m);
  int rc = fq_recv_msg(e->q, &e->m, -1);
  if (rc != 0) bench_die_fq("fq_recv_msg", rc);
  *len = (uint32_t)fq_msg_size(e->m);
  return fq_msg_data(e->m);
}

static void in_place_close(void *end) {
  fq_in_place_end *e = end;
  if (e->m) fq_msg_free(e->m);
  fq_close(e->q);
  free(e);
}

const bench_peer bench_peer_fq_in_place = {"fq in place (fq_recv_msg)",
                                           fq_create,
                                           in_place_open,
                                           in_place_send,
                                           in_place_recv,
                                           in_place_close,
                                           fq_destroy,
                                           NULL};
