/* fq, the way its C users call it: fq_send, and fq_recv into the caller's
 * buffer. A variant (batch calls, a zero-copy receive) is a second table
 * beside this one, listed in main.c. */
#include <fq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                                  fq_recv_one, fq_close_end, fq_destroy};
